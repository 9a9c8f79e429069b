package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, 100 on every Linux this runs on (getconf CLK_TCK).
const clockTicks = 100.0

// procCPU is the user+system CPU seconds a process has used so far.
func procCPU(pid int) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(raw)
}

// parseStatCPU reads utime and stime (fields 14 and 15) from a /proc/<pid>/stat line;
// the command name in parentheses may itself contain spaces, so fields are counted
// from the closing parenthesis.
func parseStatCPU(raw []byte) (float64, error) {
	end := bytes.LastIndexByte(raw, ')')
	if end < 0 {
		return 0, fmt.Errorf("unexpected /proc stat line")
	}
	fields := strings.Fields(string(raw[end+1:]))
	// fields[0] is field 3 (state); utime is field 14, stime 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc stat line")
	}
	ut, err1 := strconv.ParseFloat(fields[11], 64)
	st, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad utime/stime")
	}
	return (ut + st) / clockTicks, nil
}

// procRSSKiB is a process' resident set size (VmRSS) in KiB.
func procRSSKiB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// machineCPU is the busy CPU seconds of the whole machine (all cores) from /proc/stat.
func machineCPU() (float64, error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	fields := strings.Fields(line)
	if len(fields) < 8 || fields[0] != "cpu" {
		return 0, fmt.Errorf("unexpected /proc/stat")
	}
	var busy float64
	for i, f := range fields[1:] {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0, err
		}
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already counted in user
			break
		}
		busy += v
	}
	return busy / clockTicks, nil
}

// cpuMeter snapshots the CPU of the watched processes, this process and the machine.
type cpuMeter struct {
	watch map[string]int
}

type cpuSnap struct {
	procs   map[string]float64
	self    float64
	machine float64
}

func (m cpuMeter) snap() cpuSnap {
	s := cpuSnap{procs: make(map[string]float64, len(m.watch))}
	for name, pid := range m.watch {
		if v, err := procCPU(pid); err == nil {
			s.procs[name] = v
		}
	}
	s.self, _ = procCPU(os.Getpid())
	s.machine, _ = machineCPU()
	return s
}

// CPUUse is CPU over a window in cores (1.0 = one core busy the whole window).
type CPUUse struct {
	Procs   map[string]float64 `json:"procs"`
	Clients float64            `json:"clients"`
	Machine float64            `json:"machine"`
	// Other is the machine minus everything measured: load that is not the benchmark's.
	Other float64 `json:"other"`
}

func cpuBetween(a, b cpuSnap, wall float64) CPUUse {
	u := CPUUse{Procs: map[string]float64{}}
	if wall <= 0 {
		return u
	}
	var watched float64
	for name, v := range b.procs {
		if v0, ok := a.procs[name]; ok {
			u.Procs[name] = round3((v - v0) / wall)
			watched += v - v0
		}
	}
	u.Clients = round3((b.self - a.self) / wall)
	u.Machine = round3((b.machine - a.machine) / wall)
	u.Other = round3(max(0, (b.machine-a.machine)-watched-(b.self-a.self)) / wall)
	return u
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
