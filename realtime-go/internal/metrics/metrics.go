// Package metrics defines the node's Prometheus metrics, on a registry of its own.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the node's instruments.
type Metrics struct {
	Registry    *prometheus.Registry
	Connections prometheus.Gauge
	Accepted    prometheus.Counter
	Rejected    *prometheus.CounterVec // reason
	Closes      *prometheus.CounterVec // code, reason class
	Drops       *prometheus.CounterVec // reason: slow_consumer, rate_limited, ...
	Deliveries  *prometheus.CounterVec // channel kind
	Events      *prometheus.CounterVec // topic, outcome
	FramesIn    *prometheus.CounterVec // type
	Lag         *prometheus.GaugeVec   // topic, partition
	Latency     prometheus.Histogram
	Replayed    prometheus.Counter
}

// New registers every metric on a fresh registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{
		Registry:    r,
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "realtime_connections", Help: "Open authenticated WebSocket connections on this node."}),
		Accepted:    prometheus.NewCounter(prometheus.CounterOpts{Name: "realtime_connections_accepted_total", Help: "WebSocket connections authenticated."}),
		Rejected:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "realtime_connections_rejected_total", Help: "Upgrades or sockets refused before authentication, by reason."}, []string{"reason"}),
		Closes:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "realtime_closes_total", Help: "Sockets closed by the server, by close code."}, []string{"code"}),
		Drops:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "realtime_drops_total", Help: "Sockets dropped for misbehaviour, by reason (slow_consumer, rate_limited, malformed, too_big, protocol_errors, token_expired)."}, []string{"reason"}),
		Deliveries:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "realtime_deliveries_total", Help: "Frames queued to sockets, by channel kind."}, []string{"kind"}),
		Events:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "realtime_events_total", Help: "Kafka records handled, by topic and outcome (routed, invalid, ignored, stale)."}, []string{"topic", "outcome"}),
		FramesIn:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "realtime_frames_received_total", Help: "Client frames received, by type (invalid types count as 'other')."}, []string{"type"}),
		Lag:         prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "realtime_consumer_lag", Help: "Records behind the partition's high watermark after the last fetch."}, []string{"topic", "partition"}),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "realtime_delivery_latency_seconds", Help: "From the Kafka record's timestamp to the frame being queued to sockets.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		Replayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "realtime_replayed_total", Help: "History frames replayed to resuming sockets."}),
	}
	f(m.Connections)
	f(m.Accepted)
	f(m.Rejected)
	f(m.Closes)
	f(m.Drops)
	f(m.Deliveries)
	f(m.Events)
	f(m.FramesIn)
	f(m.Lag)
	f(m.Latency)
	f(m.Replayed)
	return m
}

// Handler serves the registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
