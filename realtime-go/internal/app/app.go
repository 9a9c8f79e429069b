// Package app wires a realtime node together and runs its long-running parts (HTTP
// server, Kafka consumer, call-signal relay, presence heartbeat) under one errgroup:
// cancelling the context stops them all, the server draining its sockets first.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"platform/realtime/internal/auth"
	"platform/realtime/internal/config"
	"platform/realtime/internal/consumer"
	"platform/realtime/internal/hub"
	"platform/realtime/internal/metrics"
	"platform/realtime/internal/server"
	"platform/realtime/internal/store"
)

// Node is one realtime process.
type Node struct {
	Cfg      config.Config
	Log      *slog.Logger
	Hub      *hub.Hub
	Store    *store.Store
	Server   *server.Server
	Kafka    *consumer.Kafka
	Metrics  *metrics.Metrics
	Verifier *auth.Verifier
	Redis    *redis.Client
}

// New builds a node from cfg; nothing runs until Run.
func New(cfg config.Config, log *slog.Logger) (*Node, error) {
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	rdb := redis.NewClient(opts)
	m := metrics.New()
	h := hub.New()
	st := &store.Store{
		R: rdb, Node: cfg.NodeID, HistoryWindow: cfg.HistoryWindow, HistoryMaxLen: cfg.HistoryMaxLen,
		PresenceTTL: cfg.PresenceTTL, LastSeenTTL: cfg.LastSeenTTL, ConversationTTL: cfg.ConversationTTL,
	}
	keys := auth.NewJWKS(cfg.JWKSURL, cfg.JWKSTTL, cfg.JWKSMinRefetch)
	verifier := &auth.Verifier{Keys: keys, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, Leeway: cfg.JWTLeeway}
	start := time.Now().Add(-cfg.KafkaStartLookback)
	cl, err := consumer.NewClient(strings.Split(cfg.KafkaBootstrapServers, ","), cfg.Topics(), "realtime-"+cfg.NodeID, start)
	if err != nil {
		return nil, err
	}
	disp := &consumer.Dispatcher{Store: st, Hub: h, Metrics: m, Log: log, MaxAge: cfg.HistoryWindow}
	k := &consumer.Kafka{Client: cl, Dispatcher: disp, Metrics: m, Log: log}
	n := &Node{Cfg: cfg, Log: log, Hub: h, Store: st, Kafka: k, Metrics: m, Verifier: verifier, Redis: rdb}
	checks := map[string]server.Check{
		"redis": st.Ping,
		"kafka": k.Ping,
		"jwks":  keys.Ready,
	}
	n.Server = server.New(cfg, verifier, st, h, m, log, checks)
	checks["relay"] = func(context.Context) error {
		if !n.Server.Relay.Subscribed() {
			return errors.New("not subscribed")
		}
		return nil
	}
	return n, nil
}

// Run runs every part until ctx ends or one fails.
func (n *Node) Run(ctx context.Context) error {
	defer n.Redis.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.Server.Run(gctx) })
	g.Go(func() error { return n.Kafka.Run(gctx) })
	g.Go(func() error { return n.Server.Relay.Run(gctx) })
	g.Go(func() error { return n.presence(gctx) })
	if err := g.Wait(); err != nil {
		return fmt.Errorf("realtime node: %w", err)
	}
	return nil
}

// presence refreshes this node's users every PresenceTTL/3.
func (n *Node) presence(ctx context.Context) error {
	t := time.NewTicker(n.Cfg.PresenceTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := n.Store.Online(ctx, n.Hub.Users()); err != nil && ctx.Err() == nil {
				n.Log.Warn("presence heartbeat failed", "err", err.Error())
			}
		}
	}
}
