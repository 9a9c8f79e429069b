package server_test

// Integration tests against real Redis and Kafka (REALTIME_IT=1, set by `make
// test-go`): whole nodes in-process, clients over real WebSockets.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"platform/realtime/internal/app"
	"platform/realtime/internal/config"
)

var (
	signingKey *rsa.PrivateKey
	jwksURL    string
)

func TestMain(m *testing.M) {
	if os.Getenv("REALTIME_IT") == "" {
		fmt.Println("skipping integration tests: REALTIME_IT is not set")
		os.Exit(0)
	}
	var err error
	signingKey, err = rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "it", "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(signingKey.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(signingKey.E)).Bytes()),
		}}})
	}))
	jwksURL = srv.URL
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

func token(t *testing.T, user string, ttl time.Duration) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": "platform-identity", "aud": "platform", "sub": user, "sid": uuid.NewString(),
		"roles": []string{"user"}, "iat": now.Unix(), "exp": now.Add(ttl).Unix(),
	})
	tok.Header["kid"] = "it"
	s, err := tok.SignedString(signingKey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type node struct {
	*app.Node
	url    string
	cancel context.CancelFunc
	done   chan error
}

func startNode(t *testing.T, topic string, tweak func(*config.Config)) *node {
	t.Helper()
	cfg, err := config.Load(func(k string) string {
		switch k {
		case "REALTIME_JWKS_URL":
			return jwksURL
		case "REALTIME_KAFKA_TOPICS":
			return topic
		case "REALTIME_KAFKA_START_LOOKBACK":
			return "0s"
		}
		return os.Getenv(k)
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPPort = 0
	cfg.NodeID = "it-" + uuid.NewString()[:8]
	cfg.DrainTimeout = 3 * time.Second
	if tweak != nil {
		tweak(&cfg)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	n, err := app.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &node{Node: n, cancel: cancel, done: make(chan error, 1)}
	go func() { out.done <- n.Run(ctx) }()
	out.url = "ws://" + n.Server.Addr() + "/"
	waitReady(t, "http://"+n.Server.Addr()+"/readyz")
	t.Cleanup(func() {
		cancel()
		select {
		case <-out.done:
		case <-time.After(10 * time.Second):
			t.Error("node did not stop")
		}
	})
	return out
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became ready", url)
}

type client struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan map[string]any
	mu     sync.Mutex
	status websocket.StatusCode
	reason string
	closed chan struct{}
}

func dial(t *testing.T, url, tok string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"realtime.v1", "bearer." + tok}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ws.SetReadLimit(1 << 22)
	c := &client{t: t, ws: ws, frames: make(chan map[string]any, 4096), closed: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { _ = ws.CloseNow() })
	if f := c.next(5 * time.Second); f["type"] != "welcome" {
		t.Fatalf("first frame %v", f)
	}
	return c
}

func (c *client) read() {
	defer close(c.closed)
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.status = websocket.CloseStatus(err)
			var ce websocket.CloseError
			if ok := asClose(err, &ce); ok {
				c.reason = ce.Reason
			}
			c.mu.Unlock()
			return
		}
		var m map[string]any
		if json.Unmarshal(data, &m) == nil {
			c.frames <- m
		}
	}
}

func asClose(err error, ce *websocket.CloseError) bool {
	type unwrapper interface{ Unwrap() error }
	for err != nil {
		if e, ok := err.(websocket.CloseError); ok {
			*ce = e
			return true
		}
		u, ok := err.(unwrapper)
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func (c *client) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	if err := c.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *client) next(timeout time.Duration) map[string]any {
	c.t.Helper()
	select {
	case f := <-c.frames:
		return f
	case <-time.After(timeout):
		c.t.Fatalf("no frame within %s", timeout)
	}
	return nil
}

// expect returns the first frame of type typ, skipping others.
func (c *client) expect(typ string, timeout time.Duration) map[string]any {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case f := <-c.frames:
			if f["type"] == typ {
				return f
			}
		case <-deadline:
			c.t.Fatalf("no %s frame within %s", typ, timeout)
		}
	}
}

// collect gathers event frames until quiet for `settle`.
func (c *client) collect(settle time.Duration) []map[string]any {
	var out []map[string]any
	for {
		select {
		case f := <-c.frames:
			if f["type"] == "event" {
				out = append(out, f)
			}
		case <-time.After(settle):
			return out
		}
	}
}

func (c *client) closedWith(timeout time.Duration) (websocket.StatusCode, string) {
	c.t.Helper()
	select {
	case <-c.closed:
	case <-time.After(timeout):
		c.t.Fatalf("socket not closed within %s", timeout)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.reason
}

var producer struct {
	once sync.Once
	cl   *kgo.Client
}

func produce(t *testing.T, topic, typ, key string, data map[string]any) string {
	t.Helper()
	producer.once.Do(func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(envOr("REALTIME_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"), ",")...), kgo.AllowAutoTopicCreation())
		if err != nil {
			t.Fatal(err)
		}
		producer.cl = cl
	})
	id := uuid.Must(uuid.NewV7()).String()
	b, _ := json.Marshal(data)
	parts := strings.SplitN(typ, ".", 2)
	rec := &kgo.Record{Topic: topic, Key: []byte(key), Value: b, Headers: []kgo.RecordHeader{
		{Key: "ce_specversion", Value: []byte("1.0")},
		{Key: "ce_id", Value: []byte(id)},
		{Key: "ce_source", Value: []byte(parts[0])},
		{Key: "ce_type", Value: []byte(typ)},
		{Key: "ce_time", Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
		{Key: "ce_subject", Value: []byte(key)},
		{Key: "ce_dataschema", Value: []byte(fmt.Sprintf("https://schemas.platform.example/%s/%s/v1.json", parts[0], parts[1]))},
		{Key: "content-type", Value: []byte("application/json")},
		{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := producer.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return id
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func messageData(conv, sender string, participants []string, text string) map[string]any {
	return map[string]any{
		"message_id": uuid.NewString(), "conversation_id": conv, "sender_id": sender, "participant_ids": participants,
		"text": text, "reply_to_id": nil, "attachments": []any{}, "created_at": time.Now().UTC().Format(time.RFC3339), "edited_at": nil,
	}
}

// The topic is the real one: realtime's registry checks each type's topic.
const messageTopic = "messaging.message.v1"
const callTopic = "messaging.call.v1"

func ids(frames []map[string]any) []int64 {
	var out []int64
	for _, f := range frames {
		out = append(out, int64(f["id"].(float64)))
	}
	return out
}

func TestTwoNodesDeliverEveryEventOncePerSocket(t *testing.T) {
	a := startNode(t, messageTopic, nil)
	b := startNode(t, messageTopic, nil)
	u1, u2, stranger := uuid.NewString(), uuid.NewString(), uuid.NewString()
	conv := uuid.NewString()
	u1a := dial(t, a.url, token(t, u1, time.Hour))
	u1b := dial(t, b.url, token(t, u1, time.Hour))
	u2b := dial(t, b.url, token(t, u2, time.Hour))
	strangerA := dial(t, a.url, token(t, stranger, time.Hour))
	// Give both group-less consumers time to resolve their start offsets.
	time.Sleep(1500 * time.Millisecond)
	const n = 20
	for i := range n {
		produce(t, messageTopic, "messaging.message.sent", conv, messageData(conv, u2, []string{u1, u2}, fmt.Sprintf("m%d", i)))
	}
	// u1a also subscribes to the conversation: the same events on two of its channels.
	u1a.send(map[string]any{"type": "subscribe", "channel": "conversation:" + conv})
	got := map[string][]int64{}
	for name, c := range map[string]*client{"u1a": u1a, "u1b": u1b, "u2b": u2b} {
		got[name] = ids(c.collect(2 * time.Second))
		seen := map[int64]bool{}
		for _, id := range got[name] {
			if seen[id] {
				t.Fatalf("%s received event %d twice", name, id)
			}
			seen[id] = true
		}
		if len(got[name]) != n {
			t.Fatalf("%s received %d events, want %d", name, len(got[name]), n)
		}
	}
	if fmt.Sprint(got["u1a"]) != fmt.Sprint(got["u1b"]) {
		t.Fatalf("nodes disagree on event ids: %v vs %v", got["u1a"], got["u1b"])
	}
	if evs := strangerA.collect(300 * time.Millisecond); len(evs) != 0 {
		t.Fatalf("a non-participant received %d events", len(evs))
	}
	strangerA.send(map[string]any{"type": "subscribe", "channel": "conversation:" + conv, "ref": "s"})
	if f := strangerA.expect("error", 3*time.Second); f["code"] != "forbidden" {
		t.Fatalf("stranger subscribe: %v", f)
	}
}

func TestReconnectWithLastIdReceivesOnlyWhatWasMissed(t *testing.T) {
	a := startNode(t, messageTopic, nil)
	u1, u2, conv := uuid.NewString(), uuid.NewString(), uuid.NewString()
	c := dial(t, a.url, token(t, u1, time.Hour))
	time.Sleep(1500 * time.Millisecond)
	produce(t, messageTopic, "messaging.message.sent", conv, messageData(conv, u2, []string{u1, u2}, "seen"))
	first := c.expect("event", 5*time.Second)
	last := int64(first["id"].(float64))
	_ = c.ws.Close(websocket.StatusNormalClosure, "bye")
	for i := range 3 {
		produce(t, messageTopic, "messaging.message.sent", conv, messageData(conv, u2, []string{u1, u2}, fmt.Sprintf("missed%d", i)))
	}
	time.Sleep(time.Second)
	c2 := dial(t, a.url, token(t, u1, time.Hour))
	c2.send(map[string]any{"type": "subscribe", "channel": "user:" + u1, "since": last})
	sub := c2.expect("subscribed", 5*time.Second)
	if sub["replayed"].(float64) != 3 || sub["complete"] != true {
		t.Fatalf("subscribed = %v", sub)
	}
	evs := c2.collect(time.Second)
	if len(evs) != 3 {
		t.Fatalf("replayed %d events, want 3", len(evs))
	}
	for i, e := range evs {
		if text := e["data"].(map[string]any)["text"]; text != fmt.Sprintf("missed%d", i) || int64(e["id"].(float64)) <= last {
			t.Fatalf("replay %d = %v", i, e)
		}
	}
}

func callEvent(t *testing.T, typ, room string, data map[string]any) {
	data["room_id"] = room
	produce(t, callTopic, typ, room, data)
}

func TestCallJoinTokenWorksOnceAndSignalsReachOtherMembersOnly(t *testing.T) {
	a := startNode(t, callTopic, nil)
	b := startNode(t, callTopic, nil)
	owner, guest, stranger, room := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	time.Sleep(1500 * time.Millisecond)
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	callEvent(t, "messaging.call.room_created", room, map[string]any{"owner_id": owner, "title": nil, "created_at": exp, "expires_at": exp})
	secret := "join-" + uuid.NewString()
	callEvent(t, "messaging.call.token_issued", room, map[string]any{"user_id": guest, "token_sha256": sha(secret), "expires_at": exp})
	time.Sleep(time.Second)

	o := dial(t, a.url, token(t, owner, time.Hour))
	g := dial(t, b.url, token(t, guest, time.Hour))
	s := dial(t, b.url, token(t, stranger, time.Hour))
	o.send(map[string]any{"type": "call.join", "room_id": room})
	o.expect("call.joined", 5*time.Second)
	s.send(map[string]any{"type": "call.join", "room_id": room, "token": secret})
	if f := s.expect("error", 5*time.Second); f["code"] != "forbidden" {
		t.Fatalf("stranger with the token: %v", f)
	}
	g.send(map[string]any{"type": "call.join", "room_id": room, "token": secret})
	g.expect("call.joined", 5*time.Second)
	if f := o.expect("call.member_joined", 5*time.Second); f["user_id"] != guest {
		t.Fatalf("owner told %v", f)
	}
	g2 := dial(t, a.url, token(t, guest, time.Hour))
	g2.send(map[string]any{"type": "call.join", "room_id": room, "token": secret})
	if f := g2.expect("error", 5*time.Second); f["code"] != "token_used" {
		t.Fatalf("token reuse: %v", f)
	}
	o.send(map[string]any{"type": "call.signal", "room_id": room, "kind": "offer", "payload": map[string]any{"sdp": "v=0"}})
	if f := g.expect("call.signal", 5*time.Second); f["from"] != owner || f["kind"] != "offer" {
		t.Fatalf("guest got %v", f)
	}
	g.send(map[string]any{"type": "call.signal", "room_id": room, "kind": "answer", "to": owner, "payload": map[string]any{"sdp": "v=0"}})
	o.expect("call.signal", 5*time.Second)
	s.send(map[string]any{"type": "call.signal", "room_id": room, "kind": "ice", "payload": map[string]any{}})
	if f := s.expect("error", 5*time.Second); f["code"] != "not_joined" {
		t.Fatalf("stranger signal: %v", f)
	}
	for _, c := range []*client{o, g} {
		for _, f := range c.collect(300 * time.Millisecond) {
			t.Fatalf("unexpected event %v", f)
		}
	}
	// Nobody else heard the signals.
	for len(s.frames) > 0 {
		if f := <-s.frames; f["type"] == "call.signal" {
			t.Fatalf("stranger received a signal: %v", f)
		}
	}
	callEvent(t, "messaging.call.room_closed", room, map[string]any{"closed_at": exp, "reason": "closed"})
	if f := g.expect("event", 5*time.Second); f["event_type"] != "messaging.call.room_closed" {
		t.Fatalf("close event: %v", f)
	}
	o.send(map[string]any{"type": "call.signal", "room_id": room, "kind": "offer", "payload": map[string]any{}})
	if f := o.expect("error", 5*time.Second); f["code"] != "not_joined" && f["code"] != "room_closed" {
		t.Fatalf("signal after close: %v", f)
	}
}

func TestExpiredRoomRefusesJoin(t *testing.T) {
	a := startNode(t, callTopic, nil)
	owner, room := uuid.NewString(), uuid.NewString()
	time.Sleep(1500 * time.Millisecond)
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	callEvent(t, "messaging.call.room_created", room, map[string]any{"owner_id": owner, "title": nil, "created_at": past, "expires_at": past})
	time.Sleep(time.Second)
	c := dial(t, a.url, token(t, owner, time.Hour))
	c.send(map[string]any{"type": "call.join", "room_id": room})
	if f := c.expect("error", 5*time.Second); f["code"] != "room_expired" {
		t.Fatalf("join expired room: %v", f)
	}
}

func TestBadInputClosesWithAReasonAndTheNodeStaysHealthy(t *testing.T) {
	a := startNode(t, messageTopic, func(c *config.Config) {
		c.MaxFrameBytes = 1024
		c.RateLimit, c.RateBurst = 5, 10
		c.MaxProtocolErrs = 3
	})
	u := uuid.NewString()
	cases := []struct {
		name   string
		send   func(c *client)
		code   websocket.StatusCode
		reason string
	}{
		{"malformed", func(c *client) { _ = c.ws.Write(context.Background(), websocket.MessageText, []byte("{nope")) }, 1007, "malformed frame"},
		{"binary", func(c *client) { _ = c.ws.Write(context.Background(), websocket.MessageBinary, []byte{1, 2}) }, 1003, "binary"},
		{"oversized", func(c *client) {
			_ = c.ws.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping","pad":"`+strings.Repeat("x", 4096)+`"}`))
		}, 1009, ""},
		{"flood", func(c *client) {
			for range 50 {
				_ = c.ws.Write(context.Background(), websocket.MessageText, []byte(`{"type":"ping"}`))
			}
		}, 1008, "rate limit"},
		{"unknown types", func(c *client) {
			for range 4 {
				c.send(map[string]any{"type": "teleport"})
			}
		}, 1008, "too many invalid frames"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, a.url, token(t, u, time.Hour))
			c.t = t
			tc.send(c)
			code, reason := c.closedWith(10 * time.Second)
			if code != tc.code || !strings.Contains(reason, tc.reason) {
				t.Fatalf("closed with %d %q, want %d %q", code, reason, tc.code, tc.reason)
			}
		})
	}
	// One unknown frame is only rejected; the socket stays usable.
	c := dial(t, a.url, token(t, u, time.Hour))
	c.send(map[string]any{"type": "teleport", "ref": "x"})
	if f := c.expect("error", 3*time.Second); f["code"] != "unknown_type" || f["ref"] != "x" {
		t.Fatalf("unknown type: %v", f)
	}
	c.send(map[string]any{"type": "ping", "ref": "p"})
	c.expect("pong", 3*time.Second)
	waitReady(t, "http://"+a.Server.Addr()+"/readyz")
}

func TestUnauthenticatedSocketsAreRefused(t *testing.T) {
	a := startNode(t, messageTopic, func(c *config.Config) { c.AuthTimeout = 500 * time.Millisecond })
	// A bad token in the handshake is an HTTP 401 before any upgrade.
	_, resp, err := websocket.Dial(context.Background(), a.url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer nope"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad token: %v %v", err, resp)
	}
	// No token: an auth frame must come in time.
	ws, _, err := websocket.Dial(context.Background(), a.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = ws.Read(context.Background())
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("silent socket: %v", err)
	}
	// The auth frame works.
	ws, _, err = websocket.Dial(context.Background(), a.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	u := uuid.NewString()
	b, _ := json.Marshal(map[string]any{"type": "auth", "token": token(t, u, time.Hour)})
	_ = ws.Write(context.Background(), websocket.MessageText, b)
	_, data, err := ws.Read(context.Background())
	if err != nil || !strings.Contains(string(data), `"welcome"`) || !strings.Contains(string(data), u) {
		t.Fatalf("auth frame: %s %v", data, err)
	}
}

func TestExpiredTokenClosesUnlessRenewed(t *testing.T) {
	a := startNode(t, messageTopic, func(c *config.Config) { c.JWTLeeway = 0; c.ExpiryWarning = time.Second })
	u := uuid.NewString()
	stale := dial(t, a.url, token(t, u, 2*time.Second))
	fresh := dial(t, a.url, token(t, u, 2*time.Second))
	fresh.expect("auth.expiring", 3*time.Second)
	fresh.send(map[string]any{"type": "reauth", "token": token(t, u, time.Hour)})
	fresh.expect("reauthed", 3*time.Second)
	code, reason := stale.closedWith(5 * time.Second)
	if code != websocket.StatusPolicyViolation || reason != "token expired" {
		t.Fatalf("stale socket closed with %d %q", code, reason)
	}
	fresh.send(map[string]any{"type": "ping"})
	fresh.expect("pong", 3*time.Second)
	// Another user's token cannot take over the socket.
	fresh.send(map[string]any{"type": "reauth", "token": token(t, uuid.NewString(), time.Hour), "ref": "r"})
	if f := fresh.expect("error", 3*time.Second); f["code"] != "forbidden" {
		t.Fatalf("foreign reauth: %v", f)
	}
}

func TestSlowClientIsDroppedWithoutDelayingOthers(t *testing.T) {
	a := startNode(t, messageTopic, func(c *config.Config) { c.WriteTimeout = 30 * time.Second })
	u1, u2, conv := uuid.NewString(), uuid.NewString(), uuid.NewString()
	// The slow client never reads until the end.
	ctx := context.Background()
	slowWS, _, err := websocket.Dial(ctx, a.url, &websocket.DialOptions{Subprotocols: []string{"bearer." + token(t, u1, time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	defer slowWS.CloseNow()
	slowWS.SetReadLimit(1 << 24)
	fast := dial(t, a.url, token(t, u2, time.Hour))
	time.Sleep(1500 * time.Millisecond)
	big := strings.Repeat("x", 30000)
	const n = 700 // ~21 MB to the slow socket: more than the kernel buffers hold
	for i := range n {
		produce(t, messageTopic, "messaging.message.sent", conv, messageData(conv, u2, []string{u1, u2}, fmt.Sprintf("%d%s", i, big)))
	}
	if got := len(fast.collect(3 * time.Second)); got != n {
		select {
		case <-fast.closed:
			t.Fatalf("fast client got %d of %d, then closed with %d %q", got, n, fast.status, fast.reason)
		default:
		}
		t.Fatalf("fast client got %d of %d", got, n)
	}
	// Now read the slow socket: after what was queued comes the 1013 close.
	var status websocket.StatusCode
	for {
		_, _, err := slowWS.Read(ctx)
		if err != nil {
			status = websocket.CloseStatus(err)
			break
		}
	}
	if status != websocket.StatusTryAgainLater {
		t.Fatalf("slow client closed with %d, want 1013", status)
	}
}

func TestUnansweredPingDropsTheSocketAndAnsweredOnesKeepIt(t *testing.T) {
	a := startNode(t, messageTopic, func(c *config.Config) {
		c.PingInterval = 200 * time.Millisecond
		c.PongTimeout = 300 * time.Millisecond
	})
	live := dial(t, a.url, token(t, uuid.NewString(), time.Hour))
	// This client never reads, so it never answers a ping.
	mute, _, err := websocket.Dial(context.Background(), a.url, &websocket.DialOptions{Subprotocols: []string{"bearer." + token(t, uuid.NewString(), time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	defer mute.CloseNow()
	time.Sleep(1500 * time.Millisecond)
	live.send(map[string]any{"type": "ping"})
	live.expect("pong", 3*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := mute.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("the socket that never answered a ping is still open")
			}
			break
		}
	}
}

func TestShutdownClosesSocketsWithGoingAway(t *testing.T) {
	a := startNode(t, messageTopic, nil)
	c := dial(t, a.url, token(t, uuid.NewString(), time.Hour))
	a.cancel()
	code, reason := c.closedWith(5 * time.Second)
	if code != websocket.StatusGoingAway || reason != "server shutting down" {
		t.Fatalf("closed with %d %q", code, reason)
	}
}

func TestPresenceKeyLivesWhileAnySocketIsOpen(t *testing.T) {
	a := startNode(t, messageTopic, nil)
	b := startNode(t, messageTopic, nil)
	u := uuid.NewString()
	rdb := redis.NewClient(&redis.Options{Addr: strings.TrimPrefix(strings.TrimSuffix(envOr("REALTIME_REDIS_URL", "redis://127.0.0.1:6379/0"), "/0"), "redis://")})
	defer rdb.Close()
	key := "presence:user:" + u
	ca := dial(t, a.url, token(t, u, time.Hour))
	cb := dial(t, b.url, token(t, u, time.Hour))
	if n, _ := rdb.Exists(context.Background(), key).Result(); n != 1 {
		t.Fatal("presence key missing while connected")
	}
	_ = ca.ws.Close(websocket.StatusNormalClosure, "")
	ca.closedWith(5 * time.Second)
	time.Sleep(300 * time.Millisecond)
	if n, _ := rdb.Exists(context.Background(), key).Result(); n != 1 {
		t.Fatal("presence key gone while another node still holds a socket")
	}
	_ = cb.ws.Close(websocket.StatusNormalClosure, "")
	cb.closedWith(5 * time.Second)
	deadline := time.Now().Add(3 * time.Second)
	for {
		if n, _ := rdb.Exists(context.Background(), key).Result(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("presence key outlived the last socket")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v, err := rdb.Get(context.Background(), "presence:last_seen:"+u).Int64(); err != nil || v == 0 {
		t.Fatalf("last seen not recorded: %v", err)
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
