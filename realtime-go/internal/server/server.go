// Package server is the node's HTTP side: the WebSocket endpoint (at / and /ws; the
// gateway forwards /v1/realtime to /), /livez, /readyz and /metrics, and the
// cross-node relay of call signaling over Redis pub/sub.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"platform/realtime/internal/auth"
	"platform/realtime/internal/config"
	"platform/realtime/internal/hub"
	"platform/realtime/internal/metrics"
	"platform/realtime/internal/store"
)

// Subprotocol is the protocol name the server selects when a client offers it.
const Subprotocol = "realtime.v1"

// BearerPrefix marks a token offered as a subprotocol: "bearer.<token>".
const BearerPrefix = "bearer."

// Check is a readiness check; it returns nil when healthy.
type Check func(ctx context.Context) error

// Server serves the endpoint.
type Server struct {
	Cfg      config.Config
	Verifier *auth.Verifier
	Store    *store.Store
	Hub      *hub.Hub
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	Relay    *Relay
	Checks   map[string]Check

	draining atomic.Bool
	drainCtx context.Context // done once the node drains
	drained  context.CancelFunc
	once     sync.Once
	conns    sync.WaitGroup
	listener net.Listener
	ready    chan struct{}
}

// New builds a server; Run starts it.
func New(cfg config.Config, v *auth.Verifier, st *store.Store, h *hub.Hub, m *metrics.Metrics, log *slog.Logger, checks map[string]Check) *Server {
	s := &Server{
		Cfg: cfg, Verifier: v, Store: st, Hub: h, Metrics: m, Log: log, Checks: checks,
		ready: make(chan struct{}),
	}
	s.drainCtx, s.drained = context.WithCancel(context.Background())
	s.Relay = &Relay{Redis: st.R, Hub: h, Log: log}
	return s
}

// Handler routes the node's HTTP paths.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.Metrics.Handler())
	mux.HandleFunc("GET /{$}", s.serveWS)
	mux.HandleFunc("GET /ws", s.serveWS)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusNotFound, "Not Found", "No resource at "+r.URL.Path+".")
	})
	return mux
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "checks": map[string]string{"server": "draining"}})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	report := make(map[string]string, len(s.Checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := true
	for name, check := range s.Checks {
		wg.Go(func() {
			res := "ok"
			if err := check(ctx); err != nil {
				res = "error: " + err.Error()
			}
			mu.Lock()
			report[name] = res
			if res != "ok" {
				ok = false
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	status, code := "ok", http.StatusOK
	if !ok {
		status, code = "unavailable", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": report})
}

// Addr is the bound address once Run has started listening.
func (s *Server) Addr() string {
	<-s.ready
	return s.listener.Addr().String()
}

// Run serves until ctx ends, then drains: readiness fails, the listener closes,
// every socket gets a 1001 close, and Run returns once they are gone or
// DrainTimeout passed.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.Cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.Cfg.Addr(), err)
	}
	s.listener = ln
	close(s.ready)
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.Log.Info("listening", "addr", ln.Addr().String(), "node", s.Cfg.NodeID)
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.Cfg.DrainTimeout)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx) // stops accepting; upgraded sockets are ours to close
	s.once.Do(s.drained)
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	select {
	case <-done:
		s.Log.Info("drained")
	case <-shutdownCtx.Done():
		s.Log.Warn("drain timed out", "open", s.Hub.Connections())
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// problem writes an RFC 9457 problem document.
func problem(w http.ResponseWriter, code int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": title, "status": code, "detail": detail})
}

// tokenFromRequest finds a token in the Authorization header or in a
// "bearer.<token>" subprotocol. Tokens are never read from the URL.
func tokenFromRequest(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "bearer") && strings.TrimSpace(tok) != "" {
			return strings.TrimSpace(tok), true
		}
		return "", true
	}
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); strings.HasPrefix(p, BearerPrefix) {
				return p[len(BearerPrefix):], true
			}
		}
	}
	return "", false
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func authStatus(err error) (int, string) {
	if errors.Is(err, auth.ErrKeysUnavailable) {
		return http.StatusServiceUnavailable, "Token keys are unavailable; try again shortly."
	}
	msg := strings.TrimPrefix(err.Error(), auth.ErrUnauthorized.Error()+": ")
	return http.StatusUnauthorized, msg
}
