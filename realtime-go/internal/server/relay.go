package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"platform/realtime/internal/hub"
	"platform/realtime/internal/route"
)

// RelayChannel is the Redis pub/sub channel carrying call signaling between nodes.
const RelayChannel = "realtime:call-signal"

// Relay carries client-originated call frames to every node; each node hands them
// to its own sockets joined to the room, except the sender's (and, with To, only
// to that user). One publish per frame, so each socket gets it once.
type Relay struct {
	Redis *redis.Client
	Hub   *hub.Hub
	Log   *slog.Logger

	subscribed atomic.Bool
}

// Subscribed reports whether the relay currently listens (readiness).
func (r *Relay) Subscribed() bool { return r.subscribed.Load() }

// RelayMsg is one relayed frame.
type RelayMsg struct {
	Room  string          `json:"room"`
	From  string          `json:"from"`
	To    string          `json:"to,omitempty"`
	Frame json.RawMessage `json:"frame"`
}

// Publish sends msg to every node.
func (r *Relay) Publish(ctx context.Context, msg RelayMsg) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("relay encode: %w", err)
	}
	if err := r.Redis.Publish(ctx, RelayChannel, b).Err(); err != nil {
		return fmt.Errorf("relay publish: %w", err)
	}
	return nil
}

// Deliver hands a relayed frame to this node's sockets.
func (r *Relay) Deliver(msg RelayMsg) {
	r.Hub.Each(route.Name(route.Call, msg.Room), func(s *hub.Subscriber) {
		if s.User == msg.From || (msg.To != "" && s.User != msg.To) {
			return
		}
		s.Offer(0, msg.Frame)
	})
}

// Run subscribes until ctx ends, resubscribing after Redis errors.
func (r *Relay) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		sub := r.Redis.Subscribe(ctx, RelayChannel)
		if _, err := sub.Receive(ctx); err != nil {
			_ = sub.Close()
			if ctx.Err() != nil {
				break
			}
			r.Log.Warn("relay subscribe failed", "err", err.Error())
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
			continue
		}
		r.subscribed.Store(true)
		ch := sub.Channel()
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case m, ok := <-ch:
				if !ok {
					break loop
				}
				var msg RelayMsg
				if err := json.Unmarshal([]byte(m.Payload), &msg); err != nil {
					r.Log.Warn("relay message malformed", "err", err.Error())
					continue
				}
				r.Deliver(msg)
			}
		}
		r.subscribed.Store(false)
		_ = sub.Close()
	}
	return nil
}
