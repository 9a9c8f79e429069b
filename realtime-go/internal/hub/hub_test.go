package hub

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestDeliverReachesSubscribersOnceAndRespectsTheAccessList(t *testing.T) {
	h := New()
	a, b := NewSubscriber("a", 8), NewSubscriber("b", 8)
	h.Subscribe("conversation:1", a)
	h.Subscribe("conversation:1", b)
	h.Subscribe("user:a", a)
	allowA := func(u string) bool { return u == "a" }
	r := h.Deliver("conversation:1", 5, []byte("m"), allowA)
	if r.Queued != 1 || a.Len() != 1 || b.Len() != 0 {
		t.Fatalf("result %+v; b must not receive a conversation it is not in", r)
	}
	// The same unit on the user's own channel is a repeat: dropped.
	if r := h.Deliver("user:a", 5, []byte("m"), nil); r.Queued != 0 || a.Len() != 1 {
		t.Fatalf("duplicate delivered: %+v", r)
	}
}

func TestFullQueueDropsOnlyTheSlowSubscriber(t *testing.T) {
	h := New()
	slow, fast := NewSubscriber("s", 4), NewSubscriber("f", 64)
	h.Subscribe("post:1", slow)
	h.Subscribe("post:1", fast)
	var wg sync.WaitGroup
	got := 0
	wg.Go(func() {
		for range fast.Ready() {
			got += len(fast.Take(nil))
			if got == 50 {
				return
			}
		}
	})
	start := time.Now()
	for i := int64(1); i <= 50; i++ {
		h.Deliver("post:1", i, fmt.Appendf(nil, "%d", i), nil)
	}
	if time.Since(start) > time.Second {
		t.Fatal("delivery blocked on the slow subscriber")
	}
	wg.Wait()
	select {
	case <-slow.Slow():
	default:
		t.Fatal("slow subscriber not marked")
	}
	if !slow.Dropped() || got != 50 {
		t.Fatalf("dropped=%v fast got %d", slow.Dropped(), got)
	}
}

func TestHoldQueuesReplayBeforeLiveFramesWithoutDuplicates(t *testing.T) {
	h := New()
	s := NewSubscriber("u", 16)
	s.Hold()
	h.Subscribe("user:u", s)
	h.Deliver("user:u", 3, []byte("live3"), nil) // arrives during the replay
	for _, seq := range []int64{2, 3} {          // replay from history
		if s.Seen(seq) {
			if err := s.Push(context.Background(), fmt.Appendf(nil, "replay%d", seq)); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.Release()
	h.Deliver("user:u", 4, []byte("live4"), nil)
	var out []string
	for _, f := range s.Take(nil) {
		out = append(out, string(f))
	}
	if fmt.Sprint(out) != "[live3 replay2 live4]" && fmt.Sprint(out) != "[replay2 live3 live4]" {
		t.Fatalf("frames = %v", out)
	}
	for _, f := range out {
		if f == "replay3" {
			t.Fatalf("seq 3 sent twice: %v", out)
		}
	}
}

func TestReplayFramesComeBeforeHeldLiveFrames(t *testing.T) {
	s := NewSubscriber("u", 16)
	s.Hold()
	s.Offer(9, []byte("live9"))
	if s.Seen(8) {
		_ = s.Push(context.Background(), []byte("replay8"))
	}
	s.Release()
	if got := s.Take(nil); len(got) != 2 || string(got[0]) != "replay8" || string(got[1]) != "live9" {
		t.Fatalf("order = %q", got)
	}
}

func TestDedupeForgetsTheOldestBeyondItsSize(t *testing.T) {
	d := NewDedupe(3)
	for _, v := range []int64{1, 2, 3} {
		if !d.Add(v) {
			t.Fatalf("%d reported as seen", v)
		}
	}
	if d.Add(2) {
		t.Fatal("repeat accepted")
	}
	d.Add(4) // forgets 1
	if !d.Add(1) {
		t.Fatal("oldest not forgotten")
	}
}

func TestRegisterAndRemoveTrackUsersFirstAndLastSockets(t *testing.T) {
	h := New()
	s1, s2 := NewSubscriber("u", 1), NewSubscriber("u", 1)
	if !h.Register(s1) || h.Register(s2) {
		t.Fatal("first socket not reported as first")
	}
	h.Subscribe("user:u", s1)
	if h.Remove(s1) {
		t.Fatal("first removal reported the last socket")
	}
	if h.HasSubscribers("user:u") {
		t.Fatal("removed subscriber still subscribed")
	}
	if !h.Remove(s2) || len(h.Users()) != 0 || h.Connections() != 0 {
		t.Fatal("last removal not reported")
	}
}

func TestDedupeRemembersOutOfOrderNumbersAndStaysBounded(t *testing.T) {
	d := NewDedupe(8)
	for _, v := range []int64{10, 30, 20, 40} {
		if !d.Add(v) {
			t.Fatalf("%d reported as seen", v)
		}
	}
	for _, v := range []int64{10, 20, 30, 40} {
		if d.Add(v) {
			t.Fatalf("repeat %d accepted", v)
		}
	}
	for v := int64(100); v < 1000; v++ {
		d.Add(v)
	}
	if len(d.seqs) > 10 || len(d.seqs) < 8 {
		t.Fatalf("remembers %d numbers, want 8..10", len(d.seqs))
	}
	for v := int64(992); v < 1000; v++ {
		if d.Add(v) {
			t.Fatalf("recent %d forgotten", v)
		}
	}
}

func TestQueueIsBoundedAndPushWaitsForRoom(t *testing.T) {
	s := NewSubscriber("u", 2)
	if _, ok := s.Offer(1, []byte("a")); !ok {
		t.Fatal("first frame refused")
	}
	_ = s.Push(context.Background(), []byte("b"))
	done := make(chan error, 1)
	go func() { done <- s.Push(context.Background(), []byte("c")) }()
	select {
	case <-done:
		t.Fatal("push did not wait for room")
	case <-time.After(50 * time.Millisecond):
	}
	if got := s.Take(nil); len(got) != 2 {
		t.Fatalf("took %d frames", len(got))
	}
	if err := <-done; err != nil || s.Len() != 1 {
		t.Fatalf("push after room: %v, queued %d", err, s.Len())
	}
	s.Offer(2, []byte("d"))
	if _, ok := s.Offer(3, []byte("e")); ok || !s.Dropped() {
		t.Fatal("overflow did not drop the subscriber")
	}
}

func BenchmarkDeliverToTenThousand(b *testing.B) {
	h := New()
	subs := make([]*Subscriber, 10000)
	for i := range subs {
		subs[i] = NewSubscriber(fmt.Sprint(i), 256)
		h.Subscribe("post:1", subs[i])
	}
	frame := []byte(`{"type":"event"}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.Deliver("post:1", int64(i+1), frame, nil)
		for _, s := range subs {
			s.Take(nil)
		}
	}
}
