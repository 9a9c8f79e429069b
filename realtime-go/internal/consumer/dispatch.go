// Package consumer reads the delivered topics from Kafka and hands each batch to a
// Dispatcher, which records the history in Redis and delivers to this node's sockets.
//
// Every node reads every partition itself (no consumer group), starting a little
// before it started (KAFKA_START_LOOKBACK): fanout, not load balancing. Nodes agree
// on sequence numbers through the idempotent append in Redis, so the same event gets
// the same id on every node, and sockets drop anything they were already sent.
package consumer

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"platform/realtime/internal/events"
	"platform/realtime/internal/hub"
	"platform/realtime/internal/metrics"
	"platform/realtime/internal/protocol"
	"platform/realtime/internal/route"
	"platform/realtime/internal/store"
)

// Incoming is a record with its Kafka timestamp.
type Incoming struct {
	events.Record
	Timestamp time.Time
}

// Dispatcher turns records into deliveries.
type Dispatcher struct {
	Store   *store.Store
	Hub     *hub.Hub
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// Records older than this are not delivered (their history has expired).
	MaxAge time.Duration
}

type pending struct {
	in    Incoming
	ev    events.Event
	plan  route.Plan
	span  trace.Span
	ctx   context.Context
	units []route.Unit // the non-ephemeral units, appended to history
	item  int          // index in the append batch, -1 when none
}

var propagator = propagation.TraceContext{}

// Handle processes one batch in order. Invalid records are logged and skipped (they
// can never become valid); a Redis failure returns an error so the caller retries
// the batch.
func (d *Dispatcher) Handle(ctx context.Context, batch []Incoming) error {
	tracer := otel.Tracer("realtime")
	var work []*pending
	var items []store.AppendItem
	defer func() {
		for _, p := range work {
			p.span.End()
		}
	}()
	for _, in := range batch {
		ev, err := events.Decode(in.Record)
		if err != nil {
			outcome := "invalid"
			if strings.Contains(err.Error(), "unknown event type") || strings.Contains(err.Error(), "not delivered by this service") {
				outcome = "ignored"
			} else {
				d.Log.Warn("invalid event skipped", "topic", in.Topic, "ce_id", in.Headers["ce_id"], "err", err.Error())
			}
			d.Metrics.Events.WithLabelValues(in.Topic, outcome).Inc()
			continue
		}
		pctx := propagator.Extract(ctx, propagation.MapCarrier{"traceparent": ev.Traceparent, "tracestate": ev.Tracestate})
		pctx, span := tracer.Start(pctx, "realtime deliver "+ev.Type, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				attribute.String("messaging.system", "kafka"),
				attribute.String("messaging.destination.name", ev.Topic),
				attribute.String("messaging.message.id", ev.ID),
				attribute.String("cloudevents.event_type", ev.Type),
			))
		p := &pending{in: in, ev: ev, plan: route.For(ev), span: span, ctx: pctx, item: -1}
		work = append(work, p)
		stale := d.MaxAge > 0 && !in.Timestamp.IsZero() && time.Since(in.Timestamp) > d.MaxAge
		if stale {
			d.Metrics.Events.WithLabelValues(in.Topic, "stale").Inc()
			p.plan.Units, p.plan.Members = nil, nil
		}
		for _, u := range p.plan.Units {
			if !u.Ephemeral {
				p.units = append(p.units, u)
			}
		}
		if len(p.units) > 0 || p.plan.Members != nil {
			p.item = len(items)
			items = append(items, store.AppendItem{EventID: ev.ID, Units: p.units, Members: p.plan.Members})
		}
	}
	appended, err := d.Store.AppendBatch(ctx, items)
	if err != nil {
		return err
	}
	for _, p := range work {
		if p.plan.Call != nil {
			if err := d.Store.ApplyCall(ctx, *p.plan.Call); err != nil {
				return err
			}
		}
	}
	// Within a batch, deliver in sequence order: the order every node agrees on.
	type delivery struct {
		p    *pending
		seq  int64
		unit route.Unit
	}
	var out []delivery
	for _, p := range work {
		var seqs []int64
		if p.item >= 0 {
			seqs = appended[p.item].Seqs
		}
		k := 0
		for _, u := range p.plan.Units {
			var seq int64
			if !u.Ephemeral {
				if k >= len(seqs) {
					return errors.New("history append returned fewer sequence numbers than units")
				}
				seq = seqs[k]
				k++
			}
			out = append(out, delivery{p, seq, u})
		}
	}
	// Ephemeral deliveries (seq 0) carry no order and go last.
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].seq, out[j].seq
		if a == 0 || b == 0 {
			return a != 0 && b == 0
		}
		return a < b
	})
	for _, dl := range out {
		d.deliver(dl.p, dl.seq, dl.unit)
	}
	for _, p := range work {
		d.Metrics.Events.WithLabelValues(p.in.Topic, "routed").Inc()
		if !p.in.Timestamp.IsZero() {
			d.Metrics.Latency.Observe(time.Since(p.in.Timestamp).Seconds())
		}
		if p.plan.Call != nil && p.plan.Call.Kind == "room_closed" {
			ch := route.Name(route.Call, p.plan.Call.RoomID)
			d.Hub.Each(ch, func(s *hub.Subscriber) { d.Hub.Unsubscribe(ch, s) })
		}
	}
	return nil
}

func (d *Dispatcher) deliver(p *pending, seq int64, u route.Unit) {
	var allow func(string) bool
	if u.ACL != nil {
		acl := make(map[string]struct{}, len(u.ACL))
		for _, id := range u.ACL {
			acl[id] = struct{}{}
		}
		allow = func(user string) bool { _, ok := acl[user]; return ok }
	}
	total := 0
	for _, ch := range u.Channels {
		if !d.Hub.HasSubscribers(ch) {
			continue
		}
		res := d.Hub.Deliver(ch, seq, protocol.EventFrame(seq, ch, u.Body), allow)
		kind, _, _ := strings.Cut(ch, ":")
		d.Metrics.Deliveries.WithLabelValues(kind).Add(float64(res.Queued))
		total += res.Queued
	}
	p.span.SetAttributes(attribute.Int("realtime.deliveries", total))
	d.Log.DebugContext(p.ctx, "delivered", "ce_id", p.ev.ID, "type", p.ev.Type, "seq", seq, "sockets", total)
}
