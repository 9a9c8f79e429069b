package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsMatchTheLocalStack(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr() != "127.0.0.1:8090" || c.KafkaBootstrapServers != "127.0.0.1:9092" || c.JWTIssuer != "platform-identity" || c.JWTAudience != "platform" {
		t.Fatalf("defaults = %+v", c)
	}
	if !strings.HasSuffix(c.NodeID, "-8090") || len(c.Topics()) != 6 {
		t.Fatalf("node %q topics %v", c.NodeID, c.Topics())
	}
}

func TestEnvironmentOverridesAndBadValuesFail(t *testing.T) {
	c, err := Load(env(map[string]string{"REALTIME_HTTP_PORT": "9000", "REALTIME_HISTORY_WINDOW": "2m", "REALTIME_RATE_LIMIT": "2.5", "REALTIME_NODE_ID": "n1"}))
	if err != nil || c.HTTPPort != 9000 || c.HistoryWindow != 2*time.Minute || c.RateLimit != 2.5 || c.NodeID != "n1" {
		t.Fatalf("%+v %v", c, err)
	}
	for k, v := range map[string]string{"REALTIME_HTTP_PORT": "x", "REALTIME_SEND_BUFFER": "0", "REALTIME_AUTH_TIMEOUT": "soon"} {
		if _, err := Load(env(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), "REALTIME_") {
			t.Errorf("%s=%s accepted: %v", k, v, err)
		}
	}
	if !strings.Contains(Docs(), "REALTIME_SEND_BUFFER") {
		t.Fatal("docs miss a variable")
	}
}
