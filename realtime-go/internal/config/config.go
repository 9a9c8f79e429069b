// Package config loads the realtime node's settings from REALTIME_* environment
// variables. Every field documents itself through struct tags: `env` is the variable
// name without the prefix, `default` its value when unset, `doc` what it controls.
package config

import (
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Prefix is put in front of every `env` tag.
const Prefix = "REALTIME_"

// Config is every setting of a realtime node. The names shared with the Python
// services (ENVIRONMENT, LOG_LEVEL, HTTP_HOST, HTTP_PORT, KAFKA_BOOTSTRAP_SERVERS,
// REDIS_URL, JWKS_URL, OTLP_ENDPOINT) mean the same thing there.
type Config struct {
	Environment string `env:"ENVIRONMENT" default:"development" doc:"development | test | production"`
	LogLevel    string `env:"LOG_LEVEL" default:"INFO" doc:"DEBUG, INFO, WARNING or ERROR"`
	HTTPHost    string `env:"HTTP_HOST" default:"127.0.0.1" doc:"address the HTTP/WebSocket server binds"`
	HTTPPort    int    `env:"HTTP_PORT" default:"8090" doc:"port of the HTTP/WebSocket server"`
	NodeID      string `env:"NODE_ID" default:"" doc:"this node's name in presence and logs; empty: <hostname>-<port>"`

	KafkaBootstrapServers string        `env:"KAFKA_BOOTSTRAP_SERVERS" default:"127.0.0.1:9092" doc:"comma-separated Kafka brokers"`
	KafkaTopics           string        `env:"KAFKA_TOPICS" default:"messaging.message.v1,messaging.conversation.v1,messaging.notification.v1,messaging.call.v1,content.comment.v1,content.reaction.v1" doc:"topics delivered to clients"`
	KafkaStartLookback    time.Duration `env:"KAFKA_START_LOOKBACK" default:"60s" doc:"on start, read records this far back (every node reads every partition itself, without a consumer group)"`
	RedisURL              string        `env:"REDIS_URL" default:"redis://127.0.0.1:6379/0" doc:"Redis holding presence, replay history, conversation members and call rooms"`
	JWKSURL               string        `env:"JWKS_URL" default:"http://127.0.0.1:8201/.well-known/jwks.json" doc:"identity's JWKS"`
	JWTIssuer             string        `env:"JWT_ISSUER" default:"platform-identity" doc:"required iss of access tokens"`
	JWTAudience           string        `env:"JWT_AUDIENCE" default:"platform" doc:"required aud of access tokens"`
	JWTLeeway             time.Duration `env:"JWT_LEEWAY" default:"5s" doc:"clock skew allowed on exp/nbf/iat"`
	JWKSTTL               time.Duration `env:"JWKS_TTL" default:"5m" doc:"how long fetched keys are used before a refetch"`
	JWKSMinRefetch        time.Duration `env:"JWKS_MIN_REFETCH" default:"30s" doc:"at most one refetch per this interval for unknown key ids"`
	OTLPEndpoint          string        `env:"OTLP_ENDPOINT" default:"" doc:"OTLP/HTTP collector base URL; empty exports no traces"`

	AuthTimeout     time.Duration `env:"AUTH_TIMEOUT" default:"10s" doc:"a socket must authenticate within this time"`
	MaxFrameBytes   int64         `env:"MAX_FRAME_BYTES" default:"65536" doc:"largest accepted client frame; larger closes with 1009"`
	SendBuffer      int           `env:"SEND_BUFFER" default:"256" doc:"frames queued per socket; a socket whose queue is full is dropped with 1013"`
	WriteTimeout    time.Duration `env:"WRITE_TIMEOUT" default:"10s" doc:"writing one batch of queued frames taking longer closes the socket"`
	PingInterval    time.Duration `env:"PING_INTERVAL" default:"20s" doc:"WebSocket ping period; an unanswered ping closes the socket"`
	PongTimeout     time.Duration `env:"PONG_TIMEOUT" default:"10s" doc:"how long a ping waits for its pong"`
	RateLimit       float64       `env:"RATE_LIMIT" default:"20" doc:"client frames per second allowed per socket (sustained)"`
	RateBurst       int           `env:"RATE_BURST" default:"40" doc:"client frames allowed in a burst per socket"`
	MaxProtocolErrs int           `env:"MAX_PROTOCOL_ERRORS" default:"10" doc:"rejected frames (unknown type, bad arguments) before the socket is closed"`
	MaxSubs         int           `env:"MAX_SUBSCRIPTIONS" default:"200" doc:"channels one socket may subscribe to"`
	ExpiryWarning   time.Duration `env:"EXPIRY_WARNING" default:"60s" doc:"send auth.expiring this long before the token expires"`
	DrainTimeout    time.Duration `env:"DRAIN_TIMEOUT" default:"10s" doc:"on shutdown, how long sockets get to close after the 1001 close frame"`
	AllowedOrigins  string        `env:"ALLOWED_ORIGINS" default:"*" doc:"comma-separated Origin host patterns; * allows any (auth is by bearer token, never cookies)"`

	HistoryWindow   time.Duration `env:"HISTORY_WINDOW" default:"10m" doc:"how long events stay replayable per channel"`
	HistoryMaxLen   int           `env:"HISTORY_MAX_LEN" default:"500" doc:"events kept per channel for replay"`
	PresenceTTL     time.Duration `env:"PRESENCE_TTL" default:"30s" doc:"presence key TTL; refreshed every TTL/3 while a socket is open"`
	LastSeenTTL     time.Duration `env:"LAST_SEEN_TTL" default:"720h" doc:"how long last-seen times are kept"`
	ConversationTTL time.Duration `env:"CONVERSATION_TTL" default:"720h" doc:"how long known conversation members are kept after their last event"`
}

// Load reads the configuration through getenv (os.Getenv when nil).
func Load(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var c Config
	v := reflect.ValueOf(&c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := Prefix + f.Tag.Get("env")
		raw := getenv(name)
		if raw == "" {
			raw = f.Tag.Get("default")
		}
		if err := set(v.Field(i), raw); err != nil {
			return c, fmt.Errorf("%s=%q: %w", name, raw, err)
		}
	}
	if c.NodeID == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "realtime"
		}
		c.NodeID = fmt.Sprintf("%s-%d", host, c.HTTPPort)
	}
	return c, c.validate()
}

func set(field reflect.Value, raw string) error {
	switch field.Interface().(type) {
	case string:
		field.SetString(raw)
	case time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		field.SetInt(int64(d))
	case int, int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return err
		}
		field.SetInt(n)
	case float64:
		n, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return err
		}
		field.SetFloat(n)
	default:
		return fmt.Errorf("unsupported field type %s", field.Type())
	}
	return nil
}

func (c Config) validate() error {
	switch {
	case c.HTTPPort <= 0 || c.HTTPPort > 65535:
		return fmt.Errorf("%sHTTP_PORT must be a port number", Prefix)
	case c.SendBuffer < 1:
		return fmt.Errorf("%sSEND_BUFFER must be at least 1", Prefix)
	case c.MaxFrameBytes < 512:
		return fmt.Errorf("%sMAX_FRAME_BYTES must be at least 512", Prefix)
	case c.RateLimit <= 0 || c.RateBurst < 1:
		return fmt.Errorf("%sRATE_LIMIT and %sRATE_BURST must be positive", Prefix, Prefix)
	case c.HistoryWindow < time.Second || c.HistoryMaxLen < 1:
		return fmt.Errorf("%sHISTORY_WINDOW and %sHISTORY_MAX_LEN must be positive", Prefix, Prefix)
	case c.PresenceTTL < 3*time.Second:
		return fmt.Errorf("%sPRESENCE_TTL must be at least 3s", Prefix)
	case c.KafkaBootstrapServers == "" || c.RedisURL == "" || c.JWKSURL == "":
		return fmt.Errorf("%sKAFKA_BOOTSTRAP_SERVERS, %sREDIS_URL and %sJWKS_URL are required", Prefix, Prefix, Prefix)
	}
	return nil
}

// Topics is KafkaTopics split on commas.
func (c Config) Topics() []string { return splitList(c.KafkaTopics) }

// Origins is AllowedOrigins split on commas.
func (c Config) Origins() []string { return splitList(c.AllowedOrigins) }

// Addr is the listen address.
func (c Config) Addr() string { return fmt.Sprintf("%s:%d", c.HTTPHost, c.HTTPPort) }

// Docs lists every variable with its default and description, for `realtime env`.
func Docs() string {
	var b strings.Builder
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		f := t.Field(i)
		fmt.Fprintf(&b, "%s%s (default %q)\n    %s\n", Prefix, f.Tag.Get("env"), f.Tag.Get("default"), f.Tag.Get("doc"))
	}
	return b.String()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
