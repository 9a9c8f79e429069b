package main

import (
	"math/bits"
	"sync/atomic"
)

// Histogram counts durations in microseconds in log-linear buckets: exact below
// 128 µs, then 64 buckets per power of two, so any reported percentile is within
// 0.8 % of the true sample. Adds are lock-free and spread over shards, because ten
// thousand reader goroutines record into the same histogram at once.
type Histogram struct {
	shards [histShards][histBuckets]atomic.Uint64
}

const (
	histShards  = 16
	histBuckets = 128 + 30*64
	histMaxUS   = int64(1) << 36 // ~19 h; anything longer is clamped
)

func bucketOf(us int64) int {
	if us < 0 {
		us = 0
	}
	if us >= histMaxUS {
		us = histMaxUS - 1
	}
	if us < 128 {
		return int(us)
	}
	e := bits.Len64(uint64(us)) - 7 // us>>e is in [64, 127]
	return 128 + (e-1)*64 + int(us>>e) - 64
}

// bucketValue is the midpoint of bucket i, in microseconds.
func bucketValue(i int) float64 {
	if i < 128 {
		return float64(i)
	}
	e := (i-128)/64 + 1
	lower := int64((i-128)%64+64) << e
	return float64(lower) + float64(int64(1)<<e)/2
}

// Add records one duration of us microseconds from a caller that uses shard.
func (h *Histogram) Add(shard int, us int64) {
	h.shards[shard%histShards][bucketOf(us)].Add(1)
}

// Snapshot sums the shards.
func (h *Histogram) Snapshot() []uint64 {
	out := make([]uint64, histBuckets)
	for s := range h.shards {
		for i := range h.shards[s] {
			out[i] += h.shards[s][i].Load()
		}
	}
	return out
}

// Summary is what the reports print, in milliseconds.
type Summary struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// Summarize computes nearest-rank percentiles from bucket counts.
func Summarize(counts []uint64) Summary {
	var n uint64
	var sum float64
	maxIdx := -1
	for i, c := range counts {
		n += c
		sum += float64(c) * bucketValue(i)
		if c > 0 {
			maxIdx = i
		}
	}
	s := Summary{Count: n}
	if n == 0 {
		return s
	}
	rank := func(q float64) float64 {
		// nearest rank: the smallest value with at least ceil(q*n) samples at or below it
		want := uint64(q*float64(n) + 0.999999)
		if want < 1 {
			want = 1
		}
		var acc uint64
		for i, c := range counts {
			acc += c
			if acc >= want {
				return bucketValue(i) / 1000
			}
		}
		return bucketValue(len(counts)-1) / 1000
	}
	s.P50, s.P90, s.P99, s.P999 = rank(0.50), rank(0.90), rank(0.99), rank(0.999)
	s.Max = bucketValue(maxIdx) / 1000
	s.Mean = sum / float64(n) / 1000
	return s
}
