// Command realtime runs one realtime node: `realtime` serves; `realtime env` lists
// the settings; `realtime healthcheck` probes a running node's /livez (for images
// without a shell).
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"platform/realtime/internal/app"
	"platform/realtime/internal/config"
	"platform/realtime/internal/obs"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "env":
			fmt.Print(config.Docs())
			return
		case "healthcheck":
			os.Exit(healthcheck())
		case "serve":
		default:
			fmt.Fprintf(os.Stderr, "usage: realtime [serve|env|healthcheck]\n")
			os.Exit(2)
		}
	}
	cfg, err := config.Load(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "config:", err)
		os.Exit(2)
	}
	log := obs.NewLogger(os.Stdout, cfg.LogLevel, "realtime")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	shutdown, err := obs.SetupTracing(ctx, "realtime", cfg.OTLPEndpoint)
	if err != nil {
		log.Error("tracing setup failed", "err", err.Error())
		os.Exit(1)
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = shutdown(c)
	}()
	node, err := app.New(cfg, log)
	if err != nil {
		log.Error("startup failed", "err", err.Error())
		os.Exit(1)
	}
	if err := node.Run(ctx); err != nil {
		log.Error("stopped", "err", err.Error())
		os.Exit(1)
	}
	log.Info("stopped")
}

func healthcheck() int {
	cfg, err := config.Load(nil)
	if err != nil {
		return 1
	}
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/livez", cfg.HTTPPort))
	if err != nil {
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}
