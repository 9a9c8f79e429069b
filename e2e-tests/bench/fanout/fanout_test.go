package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSummarizeMatchesExactPercentilesWithinBucketError(t *testing.T) {
	var h Histogram
	// 1..10000 µs: exact p50 = 5000, p99 = 9900, max = 10000.
	for v := int64(1); v <= 10000; v++ {
		h.Add(int(v), v)
	}
	s := Summarize(h.Snapshot())
	if s.Count != 10000 {
		t.Fatalf("count %d", s.Count)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p50", s.P50, 5.0}, {"p99", s.P99, 9.9}, {"max", s.Max, 10.0}} {
		if d := (c.got - c.want) / c.want; d > 0.008 || d < -0.008 {
			t.Errorf("%s = %.4f ms, want %.4f ms within 0.8%%", c.name, c.got, c.want)
		}
	}
}

func TestHistogramIsExactBelow128MicrosecondsAndClampsNegatives(t *testing.T) {
	var h Histogram
	h.Add(0, -5)
	h.Add(0, 127)
	counts := h.Snapshot()
	if counts[0] != 1 || counts[127] != 1 {
		t.Fatalf("buckets: 0=%d 127=%d", counts[0], counts[127])
	}
	if got := bucketValue(bucketOf(127)); got != 127 {
		t.Fatalf("bucket value of 127 µs = %v", got)
	}
}

func TestBucketsAreMonotonicAndCoverTheirValue(t *testing.T) {
	prev := -1
	for v := int64(0); v < 1<<22; v += 7 {
		i := bucketOf(v)
		if i < prev {
			t.Fatalf("bucket of %d (%d) below bucket of a smaller value (%d)", v, i, prev)
		}
		prev = i
		mid := bucketValue(i)
		if d := (mid - float64(v)) / max(float64(v), 1); d > 0.008 || d < -0.008 {
			t.Fatalf("value %d reported as %.1f", v, mid)
		}
	}
}

func TestEmptyHistogramSummarizesToZero(t *testing.T) {
	var h Histogram
	if s := Summarize(h.Snapshot()); s.Count != 0 || s.P99 != 0 {
		t.Fatalf("%+v", s)
	}
}

func TestParseSeqReadsTheCountsMarkerOnly(t *testing.T) {
	frame := []byte(`{"channel":"post:x","data":{"at":"2026-01-01T00:00:00Z","counts":{"like":4711},"post_id":"x"},"event_type":"content.reaction.removed","id":12,"type":"event"}`)
	if seq, ok := parseSeq(frame); !ok || seq != 4711 {
		t.Fatalf("seq %d ok %v", seq, ok)
	}
	for _, f := range []string{`{"type":"welcome","user_id":"u"}`, `{"counts":{"like":}}`, `{}`} {
		if _, ok := parseSeq([]byte(f)); ok {
			t.Fatalf("found a sequence in %s", f)
		}
	}
}

func TestParseStatCPUHandlesSpacesInTheCommandName(t *testing.T) {
	line := []byte("1234 (a b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 100 0 0")
	got, err := parseStatCPU(line)
	if err != nil || got != 3.0 {
		t.Fatalf("cpu %v err %v, want 3.0 s (250+50 ticks)", got, err)
	}
}

func TestCentrifugoTokenIsAVerifiableHS256JWT(t *testing.T) {
	tok := centrifugoToken("secret", "bench-1", time.Unix(2000000000, 0))
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", tok)
	}
	mac := hmac.New(sha256.New, []byte("secret"))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) != parts[2] {
		t.Fatal("signature does not verify")
	}
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if string(claims) != `{"sub":"bench-1","exp":2000000000}` {
		t.Fatalf("claims %s", claims)
	}
}

func TestUUIDV7HasVersionVariantAndTimestamp(t *testing.T) {
	at := time.UnixMilli(0x0193f5a17c2d)
	u := uuidV7(at)
	if !regexp.MustCompile(`^0193f5a1-7c2d-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(u) {
		t.Fatalf("uuid %s", u)
	}
	if uuidV7(at) == u {
		t.Fatal("two UUIDs for the same millisecond are equal")
	}
}

func TestRealtimeRecordCarriesAValidEnvelopeAndTheSequence(t *testing.T) {
	cfg := config{proto: protoRealtime, channel: "post:0193f5d0-2b3c-7d4e-8f50-6a7b8c9d0e1f", topic: "content.reaction.v1"}
	rec := newPublisher(cfg).record(42, time.Now())
	h := map[string]string{}
	for _, x := range rec.Headers {
		h[x.Key] = string(x.Value)
	}
	if string(rec.Key) != "0193f5d0-2b3c-7d4e-8f50-6a7b8c9d0e1f" || h["ce_subject"] != string(rec.Key) {
		t.Fatalf("key %s subject %s", rec.Key, h["ce_subject"])
	}
	if h["ce_type"] != "content.reaction.removed" || h["ce_source"] != "content" || h["content-type"] != "application/json" {
		t.Fatalf("headers %v", h)
	}
	if seq, ok := parseSeq(rec.Value); !ok || seq != 42 {
		t.Fatalf("value %s", rec.Value)
	}
}

func TestCentrifugoRecordNamesTheChannelInItsHeader(t *testing.T) {
	cfg := config{proto: protoCentrifugo, channel: "bench", topic: "t"}
	rec := newPublisher(cfg).record(7, time.Now())
	if len(rec.Headers) != 1 || rec.Headers[0].Key != "centrifugo-channels" || string(rec.Headers[0].Value) != "bench" {
		t.Fatalf("headers %v", rec.Headers)
	}
}

func TestRecordCountsDuplicatesAndDeliveriesBeforeTheAck(t *testing.T) {
	b := &bench{base: time.Now()}
	b.steps = []*stepStats{{endNs: int64(time.Hour)}}
	b.seqStep = make([]atomic.Int32, 4)
	b.sendNs = make([]atomic.Int64, 4)
	b.ackNs = make([]atomic.Int64, 4)
	for i := 1; i < 4; i++ {
		b.seqStep[i].Store(0)
	}
	b.ackNs[1].Store(int64(time.Millisecond))
	var last int64
	b.record(0, 1, int64(3*time.Millisecond), &last)
	b.record(0, 1, int64(4*time.Millisecond), &last) // repeat
	b.record(0, 2, int64(5*time.Millisecond), &last) // no ack yet
	b.record(0, 9, int64(5*time.Millisecond), &last) // never published
	st := b.steps[0]
	if st.delivered.Load() != 2 || st.dups.Load() != 1 || st.beforeAck.Load() != 1 || st.inWindow.Load() != 2 {
		t.Fatalf("delivered %d dups %d beforeAck %d inWindow %d", st.delivered.Load(), st.dups.Load(), st.beforeAck.Load(), st.inWindow.Load())
	}
	if s := Summarize(st.ack.Snapshot()); s.Max < 1.9 || s.Max > 2.1 {
		t.Fatalf("ack->receive max %.3f ms, want 2 ms", s.Max)
	}
}
