// Package hub keeps this node's subscriptions and delivers frames to them.
//
// Every socket is a Subscriber with a bounded queue. Delivery never blocks: a frame
// that does not fit marks the subscriber slow, and its socket is closed by its own
// writer, so one slow client never delays another. Each subscriber remembers the
// sequence numbers it was sent recently and drops repeats, so an event reaching it on
// two channels, from a replay and live, or from a re-read Kafka record arrives once.
//
// A subscriber costs little while idle: its queue and its record of sent sequence
// numbers are slices that grow with use, and the writer takes everything queued at
// once, so a burst is written as one batch.
package hub

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
)

// dedupeSize is how many sent sequence numbers a subscriber remembers at least.
const dedupeSize = 4096

// Subscriber is one socket's delivery state.
type Subscriber struct {
	ID   uint64
	User string

	ready chan struct{} // holds a token while frames are queued
	room  chan struct{} // holds a token after the writer took frames
	slow  chan struct{}
	once  sync.Once
	limit int

	mu      sync.Mutex
	queue   [][]byte
	seen    Dedupe
	holding int
	held    [][]byte
	subs    map[string]struct{}
	dropped atomic.Bool
}

var nextID atomic.Uint64

// NewSubscriber makes a subscriber for user with a queue of size frames.
func NewSubscriber(user string, size int) *Subscriber {
	return &Subscriber{
		ID: nextID.Add(1), User: user, limit: size,
		ready: make(chan struct{}, 1), room: make(chan struct{}, 1), slow: make(chan struct{}),
		seen: Dedupe{max: dedupeSize}, subs: make(map[string]struct{}),
	}
}

// Ready holds a token while frames are queued, or after Wake; the writer then
// checks Dropped and calls Take.
func (s *Subscriber) Ready() <-chan struct{} { return s.ready }

// Take appends every queued frame to dst, in order, and empties the queue.
func (s *Subscriber) Take(dst [][]byte) [][]byte {
	s.mu.Lock()
	dst = append(dst, s.queue...)
	clear(s.queue)
	if cap(s.queue) > 64 {
		s.queue = nil // a burst is over: do not keep its array while idle
	} else {
		s.queue = s.queue[:0]
	}
	s.mu.Unlock()
	select {
	case s.room <- struct{}{}:
	default:
	}
	return dst
}

// Len is the number of queued frames.
func (s *Subscriber) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Slow is closed once the subscriber overflowed its queue.
func (s *Subscriber) Slow() <-chan struct{} { return s.slow }

// Dropped reports whether the subscriber overflowed.
func (s *Subscriber) Dropped() bool { return s.dropped.Load() }

func (s *Subscriber) markSlow() {
	s.once.Do(func() {
		s.dropped.Store(true)
		close(s.slow)
		s.Wake()
	})
}

// Wake puts a token on Ready, so the writer looks at the subscriber's state (it is
// called when the subscriber is dropped, and by the socket when it ends).
func (s *Subscriber) Wake() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// enqueueLocked appends frame to the queue; false when it is full.
func (s *Subscriber) enqueueLocked(frame []byte) bool {
	if len(s.queue) >= s.limit {
		s.markSlow()
		return false
	}
	s.queue = append(s.queue, frame)
	if len(s.queue) == 1 {
		select {
		case s.ready <- struct{}{}:
		default:
		}
	}
	return true
}

// offerLocked queues frame unless seq was already sent; seq 0 is never deduplicated.
// It returns false when the frame was dropped because the queue is full.
func (s *Subscriber) offerLocked(seq int64, frame []byte) (queued, ok bool) {
	if s.dropped.Load() {
		return false, false
	}
	if seq != 0 && !s.seen.Add(seq) {
		return false, true
	}
	if s.holding > 0 {
		if len(s.held) >= s.limit {
			s.markSlow()
			return false, false
		}
		s.held = append(s.held, frame)
		return true, true
	}
	if !s.enqueueLocked(frame) {
		return false, false
	}
	return true, true
}

// Offer queues a frame without blocking (see offerLocked).
func (s *Subscriber) Offer(seq int64, frame []byte) (queued, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offerLocked(seq, frame)
}

// Hold parks live deliveries until Release, so a replay can be queued first.
func (s *Subscriber) Hold() {
	s.mu.Lock()
	s.holding++
	s.mu.Unlock()
}

// Seen marks seq as sent and reports whether it was new (replays use it).
func (s *Subscriber) Seen(seq int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen.Add(seq)
}

// Release ends one Hold; with none left, the parked frames are queued in order.
func (s *Subscriber) Release() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holding--
	if s.holding > 0 {
		return true
	}
	held := s.held
	s.held = nil
	for _, f := range held {
		if !s.enqueueLocked(f) {
			return false
		}
	}
	return true
}

// Channels lists the subscriber's channels.
func (s *Subscriber) Channels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.subs))
	for c := range s.subs {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// Subscribed reports whether the subscriber listens on channel.
func (s *Subscriber) Subscribed(channel string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.subs[channel]
	return ok
}

// Dedupe is a bounded set of sequence numbers: it remembers at least the largest
// max of those added (the smallest are forgotten first). It is a sorted slice that
// grows with use: sequence numbers mostly arrive in increasing order, so adding one
// is usually an append, and a repeat is found by binary search.
type Dedupe struct {
	seqs []int64
	max  int
}

// NewDedupe remembers at least the n largest numbers added.
func NewDedupe(n int) *Dedupe { return &Dedupe{max: n} }

// Add records v; false when v was already there.
func (d *Dedupe) Add(v int64) bool {
	n := len(d.seqs)
	if n == 0 || v > d.seqs[n-1] {
		d.seqs = append(d.seqs, v)
	} else {
		i, found := slices.BinarySearch(d.seqs, v)
		if found {
			return false
		}
		d.seqs = slices.Insert(d.seqs, i, v)
	}
	// Forget a quarter at once when over the bound, so trimming stays amortised.
	if over := len(d.seqs) - d.max - d.max/4; over > 0 {
		drop := max(over, d.max/4)
		d.seqs = append(d.seqs[:0], d.seqs[drop:]...)
	}
	return true
}

const shards = 64

type shard struct {
	mu   sync.RWMutex
	subs map[string]map[*Subscriber]struct{}
}

// Hub maps channels to this node's subscribers.
type Hub struct {
	shards [shards]shard
	users  sync.Map // user id -> *atomic.Int64 of open sockets
	count  atomic.Int64
}

// New makes an empty hub.
func New() *Hub {
	h := &Hub{}
	for i := range h.shards {
		h.shards[i].subs = make(map[string]map[*Subscriber]struct{})
	}
	return h
}

func (h *Hub) shard(channel string) *shard {
	var x uint32 = 2166136261
	for i := 0; i < len(channel); i++ {
		x = (x ^ uint32(channel[i])) * 16777619
	}
	return &h.shards[x%shards]
}

// Subscribe adds s to channel; false when it already was.
func (h *Hub) Subscribe(channel string, s *Subscriber) bool {
	s.mu.Lock()
	_, had := s.subs[channel]
	s.subs[channel] = struct{}{}
	s.mu.Unlock()
	if had {
		return false
	}
	sh := h.shard(channel)
	sh.mu.Lock()
	set := sh.subs[channel]
	if set == nil {
		set = make(map[*Subscriber]struct{})
		sh.subs[channel] = set
	}
	set[s] = struct{}{}
	sh.mu.Unlock()
	return true
}

// Unsubscribe removes s from channel.
func (h *Hub) Unsubscribe(channel string, s *Subscriber) {
	s.mu.Lock()
	delete(s.subs, channel)
	s.mu.Unlock()
	sh := h.shard(channel)
	sh.mu.Lock()
	if set := sh.subs[channel]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(sh.subs, channel)
		}
	}
	sh.mu.Unlock()
}

// Register counts an open socket; it returns true for the user's first on this node.
func (h *Hub) Register(s *Subscriber) bool {
	h.count.Add(1)
	v, _ := h.users.LoadOrStore(s.User, new(atomic.Int64))
	return v.(*atomic.Int64).Add(1) == 1
}

// Remove drops s from every channel; it returns true when it was the user's last
// socket on this node.
func (h *Hub) Remove(s *Subscriber) bool {
	for _, c := range s.Channels() {
		h.Unsubscribe(c, s)
	}
	h.count.Add(-1)
	v, ok := h.users.Load(s.User)
	if !ok {
		return true
	}
	if v.(*atomic.Int64).Add(-1) <= 0 {
		h.users.Delete(s.User)
		return true
	}
	return false
}

// Connections is the number of registered sockets.
func (h *Hub) Connections() int64 { return h.count.Load() }

// Users lists users with an open socket on this node.
func (h *Hub) Users() []string {
	var out []string
	h.users.Range(func(k, _ any) bool {
		out = append(out, k.(string))
		return true
	})
	return out
}

// Result counts what a delivery did.
type Result struct{ Queued, Dropped int }

// Deliver offers frame (sequence seq, 0 for none) to every subscriber of channel
// that allow admits (nil admits all). It never blocks on a subscriber.
func (h *Hub) Deliver(channel string, seq int64, frame []byte, allow func(user string) bool) Result {
	sh := h.shard(channel)
	var r Result
	// Offers never block, so holding the read lock across them is short; the lock
	// order is always shard, then subscriber.
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	for s := range sh.subs[channel] {
		if allow != nil && !allow(s.User) {
			continue
		}
		queued, ok := s.Offer(seq, frame)
		if queued {
			r.Queued++
		}
		if !ok {
			r.Dropped++
		}
	}
	return r
}

// Each calls fn for every subscriber of channel.
func (h *Hub) Each(channel string, fn func(*Subscriber)) {
	sh := h.shard(channel)
	sh.mu.RLock()
	targets := make([]*Subscriber, 0, len(sh.subs[channel]))
	for s := range sh.subs[channel] {
		targets = append(targets, s)
	}
	sh.mu.RUnlock()
	for _, s := range targets {
		fn(s)
	}
}

// Push queues frame, waiting for room in the queue (bounded by ctx). Replays use it:
// they run on the socket's own goroutine, so waiting slows no one else.
func (s *Subscriber) Push(ctx context.Context, frame []byte) error {
	for {
		if s.dropped.Load() {
			return errDropped
		}
		s.mu.Lock()
		if len(s.queue) < s.limit {
			s.enqueueLocked(frame)
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		select {
		case <-s.room:
		case <-s.slow:
			return errDropped
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

var errDropped = errors.New("subscriber was dropped")

// HasSubscribers reports whether any socket on this node listens on channel.
func (h *Hub) HasSubscribers(channel string) bool {
	sh := h.shard(channel)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return len(sh.subs[channel]) > 0
}
