package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"platform/realtime/internal/events"
	"platform/realtime/internal/metrics"
)

// Kafka polls the topics and feeds the Dispatcher.
type Kafka struct {
	Client     *kgo.Client
	Dispatcher *Dispatcher
	Metrics    *metrics.Metrics
	Log        *slog.Logger
}

// NewClient makes a group-less client reading every partition of topics from
// `start` on (by record timestamp) when it first sees a partition.
func NewClient(brokers []string, topics []string, clientID string, start time.Time) (*kgo.Client, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(clientID),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AfterMilli(start.UnixMilli())),
		kgo.AllowAutoTopicCreation(),
		kgo.FetchMaxWait(250*time.Millisecond),
		kgo.MetadataMinAge(time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}

// Run polls until ctx ends. A batch the dispatcher fails on (Redis down) is retried
// with backoff, so events are not skipped while Redis is away.
func (k *Kafka) Run(ctx context.Context) error {
	defer k.Client.Close()
	for {
		fetches := k.Client.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			k.Log.Warn("kafka fetch error", "topic", topic, "partition", partition, "err", err.Error())
		})
		var batch []Incoming
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if n := len(p.Records); n > 0 {
				lag := p.HighWatermark - p.Records[n-1].Offset - 1
				k.Metrics.Lag.WithLabelValues(p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(max(lag, 0)))
			}
			for _, r := range p.Records {
				headers := make(map[string]string, len(r.Headers))
				for _, h := range r.Headers {
					headers[h.Key] = string(h.Value)
				}
				batch = append(batch, Incoming{
					Record:    events.Record{Topic: r.Topic, Key: string(r.Key), Headers: headers, Value: r.Value},
					Timestamp: r.Timestamp,
				})
			}
		})
		if len(batch) == 0 {
			continue
		}
		backoff := 100 * time.Millisecond
		for {
			err := k.Dispatcher.Handle(ctx, batch)
			if err == nil {
				break
			}
			k.Log.Error("dispatch failed; retrying", "err", err.Error(), "records", len(batch))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

// Ping checks the brokers answer.
func (k *Kafka) Ping(ctx context.Context) error {
	if err := k.Client.Ping(ctx); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}
