// Command fanout is the load side of the realtime fanout benchmark
// (e2e-tests/bench/fanout_bench.py runs it; docs/benchmarks.md explains the method).
//
// It opens N WebSocket clients to one server (a realtime node, the gateway in front of
// one, or Centrifugo), subscribes every client to the same channel, then publishes
// events to Kafka at a stepped constant rate and measures, per step:
//
//   - deliveries: how many (client, event) pairs arrived, per second and against
//     the expected N x published;
//   - latency from the producer's acknowledgement (the record is committed to Kafka)
//     to receipt by the client, and from the send instant (also written into the
//     event data as "at") to receipt, as exact-rank percentiles over every delivery;
//   - CPU (in cores) of the watched server processes, of this process and of the
//     machine, so deliveries per server CPU-second can be compared across servers;
//   - memory: the RSS growth of each watched process from before the clients
//     connected to after, divided by the number of clients.
//
// Producer and clients live in this one process, so every timestamp comes from the
// same monotonic clock. The JSON report goes to -out; a short summary to stderr.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type config struct {
	proto       string
	url         string
	channel     string
	tokens      []string
	secret      string
	users       int
	clients     int
	concurrency int
	brokers     []string
	topic       string
	rates       []float64
	step        time.Duration
	drain       time.Duration
	settle      time.Duration
	warmup      float64
	sloP99      time.Duration
	minComplete float64
	keepGoing   bool
	watch       map[string]int
	out         string
	label       string
	hookRate    float64
	hook        string
}

type stepStats struct {
	rate      float64
	startNs   int64
	endNs     int64 // end of the publishing window
	ack       Histogram
	send      Histogram
	produce   Histogram
	delivered atomic.Uint64
	inWindow  atomic.Uint64
	beforeAck atomic.Uint64
	dups      atomic.Uint64
	published atomic.Uint64
	pubErrors atomic.Uint64
}

type bench struct {
	cfg      config
	base     time.Time
	seqStep  []atomic.Int32 // step index of each sequence number; -1 before it is published
	sendNs   []atomic.Int64
	ackNs    []atomic.Int64
	steps    []*stepStats
	alive    atomic.Int64
	stopping atomic.Bool
	mu       sync.Mutex
	closes   map[string]int
}

func (b *bench) now() int64 { return int64(time.Since(b.base)) }

// record books one delivery of seq received at now by client id; last is the
// client's highest sequence so far (events arrive in order on one partition).
func (b *bench) record(id int, seq, now int64, last *int64) {
	if seq <= 0 || seq >= int64(len(b.seqStep)) {
		return
	}
	idx := b.seqStep[seq].Load()
	if idx < 0 {
		return
	}
	st := b.steps[idx]
	if seq <= *last {
		st.dups.Add(1)
		return
	}
	*last = seq
	st.delivered.Add(1)
	if now < st.endNs {
		st.inWindow.Add(1)
	}
	st.send.Add(id, (now-b.sendNs[seq].Load())/1000)
	ack := b.ackNs[seq].Load()
	if ack == 0 || ack > now {
		// The client was faster than the producer's acknowledgement.
		st.beforeAck.Add(1)
		st.ack.Add(id, 0)
		return
	}
	st.ack.Add(id, (now-ack)/1000)
}

func main() {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(2)
	}
	raiseFileLimit()
	report, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
	raw, _ := json.MarshalIndent(report, "", "  ")
	if cfg.out == "" || cfg.out == "-" {
		fmt.Println(string(raw))
	} else if err := os.WriteFile(cfg.out, raw, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

type watchFlag map[string]int

func (w watchFlag) String() string { return fmt.Sprint(map[string]int(w)) }
func (w watchFlag) Set(v string) error {
	name, pid, ok := strings.Cut(v, "=")
	n, err := strconv.Atoi(pid)
	if !ok || err != nil || name == "" {
		return fmt.Errorf("want name=pid, got %q", v)
	}
	w[name] = n
	return nil
}

func parseFlags() (config, error) {
	var c config
	watch := watchFlag{}
	var tokensFile, rates, brokers string
	flag.StringVar(&c.proto, "proto", protoRealtime, "client protocol: realtime | centrifugo")
	flag.StringVar(&c.url, "url", "ws://127.0.0.1:18090/", "WebSocket URL")
	flag.StringVar(&c.channel, "channel", "", "channel every client subscribes to (realtime: post:<uuid>)")
	flag.StringVar(&tokensFile, "tokens", "", "realtime: file with access tokens, one per line, used round-robin")
	flag.StringVar(&c.secret, "centrifugo-secret", "", "centrifugo: HMAC secret for connection tokens")
	flag.IntVar(&c.users, "users", 100, "centrifugo: distinct user ids in the connection tokens")
	flag.IntVar(&c.clients, "clients", 10000, "clients to connect")
	flag.IntVar(&c.concurrency, "connect-concurrency", 64, "handshakes in flight while connecting")
	flag.StringVar(&brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap servers")
	flag.StringVar(&c.topic, "topic", "content.reaction.v1", "topic to publish to")
	flag.StringVar(&rates, "rates", "1,2,5,10,20", "publish rates (events/s), one step each, in order")
	flag.DurationVar(&c.step, "step", 10*time.Second, "publishing time per step")
	flag.DurationVar(&c.drain, "drain", 5*time.Second, "after a step, wait at most this long for its deliveries")
	flag.DurationVar(&c.settle, "settle", 3*time.Second, "wait after connecting before measuring memory")
	flag.Float64Var(&c.warmup, "warmup", 5, "events published (1/s... spread over 1 s) before the first step, not reported")
	flag.DurationVar(&c.sloP99, "slo-p99", time.Second, "a step passes with p99 (ack to receipt) at or below this")
	flag.Float64Var(&c.minComplete, "min-complete", 0.999, "a step passes with at least this share of expected deliveries")
	flag.BoolVar(&c.keepGoing, "keep-going", false, "run every step even after one fails")
	flag.Var(watch, "watch", "name=pid of a server process to meter (repeatable)")
	flag.StringVar(&c.out, "out", "", "JSON report path (default stdout)")
	flag.StringVar(&c.label, "label", "", "name of this run in the report")
	flag.Float64Var(&c.hookRate, "hook-rate", 0, "run -hook when the step with this rate starts")
	flag.StringVar(&c.hook, "hook", "", "shell command started with the -hook-rate step (a profiler); $STEP_SECONDS is set")
	flag.Parse()
	c.watch = watch
	c.brokers = strings.Split(brokers, ",")
	for _, r := range strings.Split(rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 {
			return c, fmt.Errorf("bad rate %q", r)
		}
		c.rates = append(c.rates, v)
	}
	switch c.proto {
	case protoRealtime:
		if tokensFile == "" {
			return c, fmt.Errorf("-tokens is required for the realtime protocol")
		}
		raw, err := os.ReadFile(tokensFile)
		if err != nil {
			return c, err
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				c.tokens = append(c.tokens, line)
			}
		}
		if len(c.tokens) == 0 {
			return c, fmt.Errorf("%s has no tokens", tokensFile)
		}
		if !strings.HasPrefix(c.channel, "post:") {
			return c, fmt.Errorf("-channel must be post:<uuid> for the realtime protocol")
		}
	case protoCentrifugo:
		if c.secret == "" || c.channel == "" {
			return c, fmt.Errorf("-centrifugo-secret and -channel are required for centrifugo")
		}
	default:
		return c, fmt.Errorf("unknown -proto %q", c.proto)
	}
	if c.clients < 1 || c.concurrency < 1 {
		return c, fmt.Errorf("-clients and -connect-concurrency must be positive")
	}
	return c, nil
}

// raiseFileLimit lifts the soft open-files limit to the hard one (one socket per client).
func raiseFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}

// Report is the JSON document written to -out.
type Report struct {
	Label      string             `json:"label"`
	Proto      string             `json:"proto"`
	URL        string             `json:"url"`
	Channel    string             `json:"channel"`
	Topic      string             `json:"topic"`
	Requested  int                `json:"clients_requested"`
	Connect    ConnectReport      `json:"connect"`
	Memory     map[string]MemUse  `json:"memory"`
	Steps      []StepReport       `json:"steps"`
	Closes     map[string]int     `json:"closes"`
	StepConfig map[string]float64 `json:"step_config"`
}

type ConnectReport struct {
	Connected  int            `json:"connected"`
	Failed     int            `json:"failed"`
	Errors     map[string]int `json:"errors"`
	Seconds    float64        `json:"seconds"`
	PerSecond  float64        `json:"per_second"`
	Handshake  Summary        `json:"handshake_ms"`
	FileLimit  uint64         `json:"file_limit"`
	AliveAtEnd int64          `json:"alive_at_end"`
}

type MemUse struct {
	BeforeKiB  int64   `json:"rss_before_kib"`
	AfterKiB   int64   `json:"rss_after_kib"`
	PerConnKiB float64 `json:"per_connection_kib"`
}

type StepReport struct {
	Rate             float64            `json:"rate"`
	Published        uint64             `json:"published"`
	PublishErrors    uint64             `json:"publish_errors"`
	AchievedRate     float64            `json:"achieved_rate"`
	Clients          int64              `json:"clients"`
	ClientsAtEnd     int64              `json:"clients_at_end"`
	Expected         uint64             `json:"expected"`
	Delivered        uint64             `json:"delivered"`
	Complete         float64            `json:"complete"`
	DeliveredPerS    float64            `json:"delivered_per_s"`
	Duplicates       uint64             `json:"duplicates"`
	BeforeAck        uint64             `json:"before_ack"`
	AckToReceive     Summary            `json:"ack_to_receive"`
	SendToReceive    Summary            `json:"send_to_receive"`
	ProduceAck       Summary            `json:"produce_ack"`
	WindowS          float64            `json:"window_s"`
	CPU              CPUUse             `json:"cpu"`
	DeliveriesPerCPU map[string]float64 `json:"deliveries_per_cpu_s"`
	Pass             bool               `json:"pass"`
	Why              string             `json:"why,omitempty"`
}

func run(cfg config) (*Report, error) {
	b := &bench{cfg: cfg, base: time.Now(), closes: map[string]int{}}
	// Every step plus the warm-up, at index 0.
	b.steps = append(b.steps, &stepStats{rate: cfg.warmup})
	total := int(cfg.warmup) + 2
	for _, r := range cfg.rates {
		b.steps = append(b.steps, &stepStats{rate: r})
		total += int(math.Ceil(r*cfg.step.Seconds())) + 2
	}
	b.seqStep = make([]atomic.Int32, total+1)
	for i := range b.seqStep {
		b.seqStep[i].Store(-1)
	}
	b.sendNs = make([]atomic.Int64, total+1)
	b.ackNs = make([]atomic.Int64, total+1)

	rep := &Report{
		Label: cfg.label, Proto: cfg.proto, URL: cfg.url, Channel: cfg.channel, Topic: cfg.topic,
		Requested: cfg.clients, Memory: map[string]MemUse{}, Closes: map[string]int{},
		StepConfig: map[string]float64{
			"step_s": cfg.step.Seconds(), "drain_s": cfg.drain.Seconds(), "slo_p99_ms": float64(cfg.sloP99.Milliseconds()),
			"min_complete": cfg.minComplete,
		},
	}
	before := map[string]int64{}
	for name, pid := range cfg.watch {
		if v, err := procRSSKiB(pid); err == nil {
			before[name] = v
		}
	}
	before["clients"], _ = procRSSKiB(os.Getpid())

	producer, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.brokers...),
		kgo.ProducerLinger(0),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.AllowAutoTopicCreation(),
		kgo.ProducerBatchMaxBytes(1<<20),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	defer producer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	if err := producer.Ping(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("kafka ping: %w", err)
	}
	cancel()

	rep.Connect = b.connectAll()
	fmt.Fprintf(os.Stderr, "[%s] connected %d/%d in %.1fs (%d failed)\n", cfg.label, rep.Connect.Connected, cfg.clients, rep.Connect.Seconds, rep.Connect.Failed)
	if rep.Connect.Connected == 0 {
		return rep, fmt.Errorf("no client connected: %v", rep.Connect.Errors)
	}
	time.Sleep(cfg.settle)
	for name, v0 := range before {
		pid := os.Getpid()
		if name != "clients" {
			pid = cfg.watch[name]
		}
		v1, err := procRSSKiB(pid)
		if err != nil {
			continue
		}
		rep.Memory[name] = MemUse{BeforeKiB: v0, AfterKiB: v1, PerConnKiB: round3(float64(v1-v0) / float64(rep.Connect.Connected))}
	}

	pub := newPublisher(cfg)
	// Warm-up: topic metadata, the producer's connection, the servers' first fetch.
	b.runStep(0, producer, pub, time.Second)
	b.waitDrain(0, cfg.drain)
	var hook *exec.Cmd
	for i := 1; i < len(b.steps); i++ {
		time.Sleep(time.Second)
		if hook == nil && cfg.hook != "" && b.steps[i].rate == cfg.hookRate {
			hook = exec.Command("sh", "-c", cfg.hook)
			hook.Env = append(os.Environ(), fmt.Sprintf("STEP_SECONDS=%d", int(cfg.step.Seconds())))
			hook.Stdout, hook.Stderr = os.Stderr, os.Stderr
			if err := hook.Start(); err != nil {
				fmt.Fprintln(os.Stderr, "fanout: hook:", err)
				hook = nil
			}
		}
		sr := b.runStep(i, producer, pub, cfg.step)
		rep.Steps = append(rep.Steps, sr)
		fmt.Fprintf(os.Stderr, "[%s] rate %g/s: %d clients, delivered %.0f/s (%.2f%% complete), ack->recv p50 %.1f ms p99 %.1f ms, server CPU %v, pass=%v %s\n",
			cfg.label, sr.Rate, sr.Clients, sr.DeliveredPerS, 100*sr.Complete, sr.AckToReceive.P50, sr.AckToReceive.P99, sr.CPU.Procs, sr.Pass, sr.Why)
		if !sr.Pass && !cfg.keepGoing {
			break
		}
	}
	if hook != nil {
		_ = hook.Wait()
	}
	b.stopping.Store(true)
	rep.Connect.AliveAtEnd = b.alive.Load()
	b.mu.Lock()
	for k, v := range b.closes {
		rep.Closes[k] = v
	}
	b.mu.Unlock()
	return rep, nil
}

func (b *bench) connectAll() ConnectReport {
	cfg := b.cfg
	var lim syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	rep := ConnectReport{Errors: map[string]int{}, FileLimit: lim.Cur}
	var subprotocols []string
	if cfg.proto == protoRealtime {
		subprotocols = []string{"realtime.v1"}
	}
	dialer := newDialer(subprotocols)
	var hs Histogram
	ids := make(chan int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for w := range cfg.concurrency {
		wg.Go(func() {
			for id := range ids {
				t0 := time.Now()
				c, err := b.connect(id, dialer)
				hs.Add(w, time.Since(t0).Microseconds())
				mu.Lock()
				if err != nil {
					rep.Failed++
					rep.Errors[truncate(err.Error(), 120)]++
				} else {
					rep.Connected++
				}
				mu.Unlock()
				if err == nil {
					b.alive.Add(1)
					go c.readLoop()
				}
			}
		})
	}
	for id := range cfg.clients {
		ids <- id
	}
	close(ids)
	wg.Wait()
	rep.Seconds = round3(time.Since(start).Seconds())
	rep.PerSecond = round3(float64(rep.Connected) / max(rep.Seconds, 1e-9))
	rep.Handshake = Summarize(hs.Snapshot())
	return rep
}

// publisher builds the Kafka record for one sequence number.
type publisher struct {
	cfg    config
	postID string
	author string
	user   string
}

func newPublisher(cfg config) *publisher {
	p := &publisher{cfg: cfg, author: uuidV7(time.Now()), user: uuidV7(time.Now())}
	if id, ok := strings.CutPrefix(cfg.channel, "post:"); ok {
		p.postID = id
	} else {
		p.postID = uuidV7(time.Now())
	}
	return p
}

// record is a content.reaction.removed event (its public view, counts included,
// goes to the post channel); for Centrifugo the same data with the channel header of
// its Kafka consumer's publication-data mode.
func (p *publisher) record(seq int64, wall time.Time) *kgo.Record {
	at := wall.UTC().Format(time.RFC3339Nano)
	data := fmt.Sprintf(`{"target_type":"post","target_id":"%s","post_id":"%s","target_author_id":"%s","user_id":"%s","kind":"like","at":"%s","counts":{"like":%d}}`,
		p.postID, p.postID, p.author, p.user, at, seq)
	if p.cfg.proto == protoCentrifugo {
		return &kgo.Record{
			Topic: p.cfg.topic, Key: []byte(p.cfg.channel), Value: []byte(data),
			Headers: []kgo.RecordHeader{{Key: "centrifugo-channels", Value: []byte(p.cfg.channel)}},
		}
	}
	h := func(k, v string) kgo.RecordHeader { return kgo.RecordHeader{Key: k, Value: []byte(v)} }
	return &kgo.Record{
		Topic: p.cfg.topic, Key: []byte(p.postID), Value: []byte(data),
		Headers: []kgo.RecordHeader{
			h("ce_specversion", "1.0"), h("ce_id", uuidV7(wall)), h("ce_source", "content"),
			h("ce_type", "content.reaction.removed"), h("ce_time", at), h("ce_subject", p.postID),
			h("ce_dataschema", "https://schemas.platform.example/content/reaction.removed/v1.json"),
			h("content-type", "application/json"),
		},
	}
}

// uuidV7 is a random RFC 9562 version-7 UUID stamped with t.
func uuidV7(t time.Time) string {
	var u [16]byte
	_, _ = rand.Read(u[6:])
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

var nextSeq int64

// runStep publishes at the step's rate for dur (open loop: event k is due at
// t0 + k/rate whatever happened before), waits for the deliveries and reports.
func (b *bench) runStep(idx int, producer *kgo.Client, pub *publisher, dur time.Duration) StepReport {
	st := b.steps[idx]
	meter := cpuMeter{watch: b.cfg.watch}
	n := max(1, int(math.Round(st.rate*dur.Seconds())))
	interval := time.Duration(float64(time.Second) / st.rate)
	if idx == 0 {
		interval = dur / time.Duration(n)
	}
	clients := b.alive.Load()
	c0 := meter.snap()
	t0 := b.now()
	st.startNs = t0
	st.endNs = t0 + int64(dur)
	for k := range n {
		due := t0 + int64(k)*int64(interval)
		if wait := due - b.now(); wait > 0 {
			time.Sleep(time.Duration(wait))
		}
		nextSeq++
		seq := nextSeq
		if seq >= int64(len(b.seqStep)) {
			break
		}
		b.seqStep[seq].Store(int32(idx))
		sent := b.now()
		b.sendNs[seq].Store(sent)
		producer.Produce(context.Background(), pub.record(seq, time.Now()), func(_ *kgo.Record, err error) {
			if err != nil {
				st.pubErrors.Add(1)
				return
			}
			ack := b.now()
			b.ackNs[seq].Store(ack)
			st.published.Add(1)
			st.produce.Add(int(seq), (ack-sent)/1000)
		})
	}
	if wait := st.endNs - b.now(); wait > 0 {
		time.Sleep(time.Duration(wait))
	}
	flushCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = producer.Flush(flushCtx)
	cancel()
	b.waitDrain(idx, b.cfg.drain)
	c1 := meter.snap()
	t1 := b.now()
	window := float64(t1-t0) / 1e9
	atEnd := b.alive.Load()
	published := st.published.Load()
	expected := published * uint64(atEnd)
	delivered := st.delivered.Load()
	sr := StepReport{
		Rate: st.rate, Published: published, PublishErrors: st.pubErrors.Load(),
		AchievedRate: round3(float64(published) / dur.Seconds()),
		Clients:      clients, ClientsAtEnd: atEnd, Expected: expected, Delivered: delivered,
		DeliveredPerS: round3(float64(st.inWindow.Load()) / dur.Seconds()),
		Duplicates:    st.dups.Load(), BeforeAck: st.beforeAck.Load(),
		AckToReceive: Summarize(st.ack.Snapshot()), SendToReceive: Summarize(st.send.Snapshot()),
		ProduceAck: Summarize(st.produce.Snapshot()), WindowS: round3(window),
		CPU: cpuBetween(c0, c1, window), DeliveriesPerCPU: map[string]float64{},
	}
	if expected > 0 {
		sr.Complete = math.Round(float64(delivered)/float64(expected)*1e5) / 1e5
	}
	var serverCPU float64
	for name, cores := range sr.CPU.Procs {
		if cores > 0 {
			sr.DeliveriesPerCPU[name] = math.Round(float64(delivered) / (cores * window))
		}
		if !isInfra(name) {
			serverCPU += cores
		}
	}
	if serverCPU > 0 {
		sr.DeliveriesPerCPU["server_total"] = math.Round(float64(delivered) / (serverCPU * window))
	}
	var why []string
	if sr.Complete < b.cfg.minComplete {
		why = append(why, fmt.Sprintf("only %.2f%% of deliveries arrived", 100*sr.Complete))
	}
	if sr.AckToReceive.P99 > float64(b.cfg.sloP99.Milliseconds()) {
		why = append(why, fmt.Sprintf("p99 %.0f ms above %d ms", sr.AckToReceive.P99, b.cfg.sloP99.Milliseconds()))
	}
	if lost := clients - atEnd; float64(lost) > 0.001*float64(clients) {
		why = append(why, fmt.Sprintf("%d clients were disconnected", lost))
	}
	if sr.PublishErrors > 0 {
		why = append(why, fmt.Sprintf("%d publish errors", sr.PublishErrors))
	}
	sort.Strings(why)
	sr.Pass = len(why) == 0
	sr.Why = strings.Join(why, "; ")
	return sr
}

// isInfra names shared servers (Kafka, Redis) metered for context but not counted as
// the server under test.
func isInfra(name string) bool { return name == "kafka" || name == "redis" }

// waitDrain waits until every client has the step's events, or timeout.
func (b *bench) waitDrain(idx int, timeout time.Duration) {
	st := b.steps[idx]
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		want := st.published.Load() * uint64(b.alive.Load())
		if st.delivered.Load() >= want && st.pubErrors.Load()+st.published.Load() > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
