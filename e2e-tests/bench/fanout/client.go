package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Protocols the clients speak.
const (
	protoRealtime   = "realtime"
	protoCentrifugo = "centrifugo"
)

// seqMarker precedes the benchmark sequence number in every published event's data
// ({"counts":{"like":<seq>}}); both servers pass the data through unchanged.
var seqMarker = []byte(`"counts":{"like":`)

// parseSeq finds the sequence number in a frame; ok is false for frames that carry
// none (welcome, pongs, replies).
func parseSeq(frame []byte) (int64, bool) {
	i := bytes.Index(frame, seqMarker)
	if i < 0 {
		return 0, false
	}
	var v int64
	n := 0
	for _, ch := range frame[i+len(seqMarker):] {
		if ch < '0' || ch > '9' {
			break
		}
		v = v*10 + int64(ch-'0')
		n++
		if n > 18 {
			return 0, false
		}
	}
	return v, n > 0
}

// dialer keeps each client small: 1 KiB read buffer, write buffer only while writing.
func newDialer(subprotocols []string) *websocket.Dialer {
	return &websocket.Dialer{
		HandshakeTimeout: 60 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  512,
		WriteBufferPool:  &sync.Pool{},
		Subprotocols:     subprotocols,
	}
}

type client struct {
	id    int
	b     *bench
	ws    *websocket.Conn
	buf   []byte
	last  int64
	proto string
}

// connect opens one client and subscribes it to the channel; it returns once the
// server confirmed the subscription.
func (b *bench) connect(id int, dialer *websocket.Dialer) (*client, error) {
	c := &client{id: id, b: b, proto: b.cfg.proto}
	header := http.Header{}
	if b.cfg.proto == protoRealtime {
		header.Set("Authorization", "Bearer "+b.cfg.tokens[id%len(b.cfg.tokens)])
	}
	ws, resp, err := dialer.Dial(b.cfg.url, header)
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
			_ = resp.Body.Close()
			return nil, fmt.Errorf("handshake HTTP %d: %s", resp.StatusCode, firstLine(string(body)))
		}
		return nil, err
	}
	ws.SetReadLimit(1 << 20)
	c.ws = ws
	if err := ws.SetReadDeadline(time.Now().Add(60 * time.Second)); err != nil {
		_ = ws.Close()
		return nil, err
	}
	if b.cfg.proto == protoRealtime {
		err = c.setupRealtime()
	} else {
		err = c.setupCentrifugo()
	}
	if err != nil {
		_ = ws.Close()
		return nil, err
	}
	if err := ws.SetReadDeadline(time.Time{}); err != nil {
		_ = ws.Close()
		return nil, err
	}
	return c, nil
}

func (c *client) read() ([]byte, error) {
	_, r, err := c.ws.NextReader()
	if err != nil {
		return nil, err
	}
	c.buf = c.buf[:0]
	for {
		if len(c.buf) == cap(c.buf) {
			c.buf = append(c.buf, 0)[:len(c.buf)]
		}
		n, err := r.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+n]
		if errors.Is(err, io.EOF) {
			return c.buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// setupRealtime waits for the welcome frame, subscribes and waits for "subscribed".
// Server frames are JSON objects with sorted keys ({"...","type":"welcome",...}).
func (c *client) setupRealtime() error {
	if _, err := c.await([]byte(`"type":"welcome"`)); err != nil {
		return err
	}
	msg := fmt.Sprintf(`{"type":"subscribe","channel":%q,"ref":"s"}`, c.b.cfg.channel)
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		return err
	}
	_, err := c.await([]byte(`"type":"subscribed"`))
	return err
}

// await reads frames until one contains want; an error frame fails.
func (c *client) await(want []byte) ([]byte, error) {
	for {
		frame, err := c.read()
		if err != nil {
			return nil, err
		}
		if bytes.Contains(frame, want) {
			return frame, nil
		}
		if bytes.Contains(frame, []byte(`"type":"error"`)) {
			return nil, fmt.Errorf("server error frame: %s", truncate(string(frame), 160))
		}
	}
}

// setupCentrifugo sends connect and subscribe in one frame (the JSON protocol takes
// newline-separated commands) and waits for the subscribe reply.
func (c *client) setupCentrifugo() error {
	token := centrifugoToken(c.b.cfg.secret, fmt.Sprintf("bench-%d", c.id%max(1, c.b.cfg.users)), time.Now().Add(2*time.Hour))
	msg := fmt.Sprintf("{\"id\":1,\"connect\":{\"token\":%q,\"name\":\"fanout-bench\"}}\n{\"id\":2,\"subscribe\":{\"channel\":%q}}",
		token, c.b.cfg.channel)
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		return err
	}
	for {
		frame, err := c.read()
		if err != nil {
			return err
		}
		for line := range bytes.SplitSeq(frame, []byte("\n")) {
			if bytes.Contains(line, []byte(`"error"`)) {
				return fmt.Errorf("centrifugo error reply: %s", truncate(string(line), 160))
			}
			if bytes.HasPrefix(line, []byte(`{"id":2,`)) {
				return nil
			}
		}
	}
}

// centrifugoToken is an HS256 connection JWT for user sub.
func centrifugoToken(secret, sub string, exp time.Time) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims := enc.EncodeToString([]byte(fmt.Sprintf(`{"sub":%q,"exp":%d}`, sub, exp.Unix())))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(head + "." + claims))
	return head + "." + claims + "." + enc.EncodeToString(mac.Sum(nil))
}

// readLoop records every benchmark event until the socket ends.
func (c *client) readLoop() {
	defer c.b.alive.Add(-1)
	pong := []byte("{}")
	for {
		frame, err := c.read()
		if err != nil {
			c.b.closed(err)
			return
		}
		now := c.b.now()
		if c.proto == protoRealtime {
			c.observe(frame, now)
			continue
		}
		for line := range bytes.SplitSeq(frame, []byte("\n")) {
			if len(line) == 2 && line[0] == '{' && line[1] == '}' {
				// Centrifugo's application-level ping; it disconnects clients that do not answer.
				if err := c.ws.WriteMessage(websocket.TextMessage, pong); err != nil {
					c.b.closed(err)
					return
				}
				continue
			}
			c.observe(line, now)
		}
	}
}

func (c *client) observe(frame []byte, now int64) {
	seq, ok := parseSeq(frame)
	if !ok {
		return
	}
	c.b.record(c.id, seq, now, &c.last)
}

func (b *bench) closed(err error) {
	if b.stopping.Load() {
		return
	}
	reason := "read: " + err.Error()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		reason = "close " + strconv.Itoa(ce.Code) + ": " + ce.Text
	}
	b.mu.Lock()
	b.closes[truncate(reason, 100)]++
	b.mu.Unlock()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return truncate(line, 160)
}
