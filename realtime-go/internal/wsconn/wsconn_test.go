package wsconn

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// serve runs handle on every accepted connection of a test server.
func serve(t *testing.T, opts Options, handle func(c *Conn)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, opts)
		if err != nil {
			var herr *HandshakeError
			if errors.As(err, &herr) {
				for k, v := range herr.Header {
					w.Header()[k] = v
				}
				http.Error(w, herr.Msg, herr.Status)
			}
			return
		}
		defer c.CloseNow()
		handle(c)
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dial(t *testing.T, url string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	return ws
}

func readCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestBatchArrivesAsSeparateMessagesInOrderAndSubprotocolIsSelected(t *testing.T) {
	big := strings.Repeat("y", 70_000) // over 64 KiB: its own write, 64-bit length
	mid := strings.Repeat("m", 300)    // 16-bit length
	url := serve(t, Options{Subprotocol: "realtime.v1"}, func(c *Conn) {
		frames := [][]byte{[]byte("a"), []byte(mid), []byte(big), []byte("z")}
		if err := c.WriteText(frames, 5*time.Second); err != nil {
			t.Errorf("write: %v", err)
		}
		_, _, _ = c.Read()
	})
	ws := dial(t, url, &websocket.DialOptions{Subprotocols: []string{"bearer.x", "realtime.v1"}})
	ws.SetReadLimit(1 << 20)
	if ws.Subprotocol() != "realtime.v1" {
		t.Fatalf("subprotocol %q", ws.Subprotocol())
	}
	for _, want := range []string{"a", mid, big, "z"} {
		typ, data, err := ws.Read(readCtx(t))
		if err != nil || typ != websocket.MessageText || string(data) != want {
			t.Fatalf("got %v %d bytes %v, want %d bytes", typ, len(data), err, len(want))
		}
	}
}

func TestOversizedMessageClosesWith1009AndFragmentsAreJoined(t *testing.T) {
	got := make(chan string, 4)
	url := serve(t, Options{ReadLimit: 1024}, func(c *Conn) {
		for {
			_, data, err := c.Read()
			if err != nil {
				got <- "err:" + err.Error()
				return
			}
			got <- string(data)
		}
	})
	ws := dial(t, url, nil)
	w, err := ws.Writer(context.Background(), websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("hello "))
	_, _ = fmt.Fprint(w, "world") // a second frame of the same message
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "hello world" {
		t.Fatalf("fragmented message read as %q", s)
	}
	_ = ws.Write(context.Background(), websocket.MessageText, []byte(strings.Repeat("x", 2000)))
	if s := <-got; !strings.Contains(s, "read limited at 1024 bytes") {
		t.Fatalf("oversized: %q", s)
	}
	_, _, err = ws.Read(readCtx(t))
	if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
		t.Fatalf("client saw %v, want 1009", err)
	}
}

func TestPingIsAnsweredAndCloseHandshakeCarriesCodeAndReason(t *testing.T) {
	pinged := make(chan error, 1)
	url := serve(t, Options{}, func(c *Conn) {
		// The reader records the pong and, later, the client's close frame.
		go func() {
			for {
				if _, _, err := c.Read(); err != nil {
					return
				}
			}
		}()
		go func() { pinged <- c.Ping(2 * time.Second) }()
		if err := <-pinged; err != nil {
			t.Errorf("ping: %v", err)
		}
		if err := c.Close(StatusTryAgainLater, "slow consumer"); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := c.WriteText([][]byte{[]byte("late")}, time.Second); !errors.Is(err, ErrClosed) {
			t.Errorf("write after close: %v", err)
		}
	})
	ws := dial(t, url, nil)
	// The client answers pings while reading; the close frame ends its read.
	_, _, err := ws.Read(readCtx(t))
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusTryAgainLater || ce.Reason != "slow consumer" {
		t.Fatalf("client saw %v", err)
	}
}

func TestUnansweredPingTimesOut(t *testing.T) {
	res := make(chan error, 1)
	url := serve(t, Options{}, func(c *Conn) {
		res <- c.Ping(200 * time.Millisecond) // nobody reads on either side
	})
	_ = dial(t, url, nil)
	select {
	case err := <-res:
		if !errors.Is(err, ErrPongTimeout) {
			t.Fatalf("ping: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ping never returned")
	}
}

func TestHandshakeRefusals(t *testing.T) {
	url := serve(t, Options{Origins: []string{"app.example.com", "https://*.example.org"}}, func(c *Conn) {})
	httpURL := "http" + strings.TrimPrefix(url, "ws")
	resp, err := http.Get(httpURL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET: %d", resp.StatusCode)
	}
	for origin, ok := range map[string]bool{
		"https://evil.example.net": false, "https://app.example.com": true,
		"https://x.example.org": true, "http://x.example.org": false,
	} {
		_, resp, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {origin}}})
		if ok != (err == nil) {
			t.Fatalf("origin %s: %v", origin, err)
		}
		if !ok && (resp == nil || resp.StatusCode != http.StatusForbidden) {
			t.Fatalf("origin %s: %v", origin, resp)
		}
	}
}

func TestUnmaskedClientFrameIsAProtocolError(t *testing.T) {
	got := make(chan error, 1)
	url := serve(t, Options{}, func(c *Conn) {
		_, _, err := c.Read()
		got <- err
	})
	c := rawDial(t, url)
	_, _ = c.Write([]byte{0x81, 0x02, 'h', 'i'}) // FIN text "hi", unmasked
	buf := make([]byte, 64)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := io.ReadAtLeast(c, buf, 4)
	if n < 4 || buf[0] != 0x88 || StatusCode(binary.BigEndian.Uint16(buf[2:])) != StatusProtocolError {
		t.Fatalf("reply % x", buf[:n])
	}
	var perr ProtocolError
	if err := <-got; !errors.As(err, &perr) {
		t.Fatalf("Read: %v", err)
	}
}

// rawDial opens a WebSocket by hand and returns the bare connection after the 101.
func rawDial(t *testing.T, url string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_, _ = fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	if br.Buffered() > 0 {
		t.Fatal("unexpected bytes after the handshake")
	}
	return c
}

func TestStalledBatchFailsAtItsDeadlineAndTheConnTakesNoMoreWrites(t *testing.T) {
	res := make(chan error, 1)
	url := serve(t, Options{}, func(c *Conn) {
		frame := make([]byte, 60_000)
		batch := [][]byte{frame, frame, frame, frame}
		start := time.Now()
		for time.Since(start) < 10*time.Second { // the client never reads
			if err := c.WriteText(batch, 300*time.Millisecond); err != nil {
				res <- err
				res <- c.WriteText([][]byte{[]byte("x")}, time.Second)
				return
			}
		}
		res <- nil
	})
	_ = dial(t, url, nil)
	if err := <-res; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stalled write: %v", err)
	}
	if err := <-res; !errors.Is(err, ErrClosed) {
		t.Fatalf("write after a failed one: %v", err)
	}
}
