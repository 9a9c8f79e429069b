// Package wsconn is the server side of a WebSocket connection (RFC 6455), shaped for
// fanout: a writer hands over every frame it has queued and they are encoded into one
// buffer and written with one system call, under one write deadline set on the
// connection. The handshake and frame parsing come from github.com/gobwas/ws; no
// extension (compression) is ever negotiated.
//
// Concurrency: Read is for one goroutine (the socket's reader), which also answers
// pings and close frames. Every write (WriteText, Ping, WriteClose, the reader's
// answers) takes the connection's write lock, so frames never interleave. Once a
// close frame was written, or a write failed or timed out, nothing else is written.
package wsconn

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// StatusCode is a close code (RFC 6455 section 7.4).
type StatusCode uint16

// Close codes used by the server.
const (
	StatusNormalClosure           StatusCode = 1000
	StatusGoingAway               StatusCode = 1001
	StatusProtocolError           StatusCode = 1002
	StatusUnsupportedData         StatusCode = 1003
	StatusNoStatus                StatusCode = 1005
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusInternalError           StatusCode = 1011
	StatusTryAgainLater           StatusCode = 1013
)

// OpCode is a frame's type; Read returns OpText or OpBinary.
type OpCode = ws.OpCode

// Message types Read returns.
const (
	OpText   = ws.OpText
	OpBinary = ws.OpBinary
)

var (
	// ErrReadLimit: a message was larger than the read limit; a 1009 close frame
	// was sent.
	ErrReadLimit = errors.New("message too big")
	// ErrClosed: the connection can no longer be written to (a close frame was
	// sent, or an earlier write failed).
	ErrClosed = errors.New("websocket connection closed")
	// ErrPongTimeout: no pong arrived within the ping's timeout.
	ErrPongTimeout = errors.New("no pong within the timeout")
)

// CloseError is what Read returns once the peer sent a close frame.
type CloseError struct {
	Code   StatusCode
	Reason string
}

func (e CloseError) Error() string {
	return fmt.Sprintf("websocket closed by peer: %d %q", e.Code, e.Reason)
}

// ProtocolError is what Read returns for a frame that breaks RFC 6455; a 1002
// close frame was sent.
type ProtocolError struct{ Err error }

func (e ProtocolError) Error() string { return "websocket protocol violation: " + e.Err.Error() }
func (e ProtocolError) Unwrap() error { return e.Err }

// HandshakeError is a refused upgrade; nothing was written, the caller answers with
// Status (and Header).
type HandshakeError struct {
	Status int
	Msg    string
	Header http.Header
}

func (e *HandshakeError) Error() string { return e.Msg }

// Options shape Accept.
type Options struct {
	// Subprotocol is selected when the client offers it (case-insensitively).
	Subprotocol string
	// Origins are host patterns (path.Match syntax, or with a scheme:
	// "https://*.example.com") a browser Origin must match when it is not the
	// request's own host; nil or ["*"] skips the check.
	Origins []string
	// ReadLimit bounds a message's size in bytes; larger ones close the socket with
	// 1009. Zero means 32 KiB.
	ReadLimit int64
	// HandshakeTimeout bounds writing the 101 response; zero means 10 s.
	HandshakeTimeout time.Duration
}

// controlTimeout bounds writing a pong or close frame.
const controlTimeout = 5 * time.Second

// closeWait is how long Close waits for the peer's close frame.
const closeWait = 5 * time.Second

// Conn is one upgraded connection.
type Conn struct {
	nc          net.Conn
	br          *bufio.Reader
	limit       int64
	subprotocol string

	wmu       sync.Mutex
	closeSent bool      // guarded by wmu: nothing more may be written
	deadline  time.Time // guarded by wmu: the write deadline set on nc

	pong     chan struct{}
	done     chan struct{} // closed once Read hit the end of the stream
	doneOnce sync.Once
	readErr  error                      // Read's terminal error, set before done is closed
	hdr      [ws.MaxHeaderSize - 2]byte // Read's header scratch
}

// Accept checks the handshake and upgrades the connection. A request that is not a
// valid WebSocket handshake, or comes from a refused Origin, yields a *HandshakeError
// before anything is written; after the connection is hijacked, errors mean it is gone.
func Accept(w http.ResponseWriter, r *http.Request, opts Options) (*Conn, error) {
	if herr := verify(r, opts.Origins); herr != nil {
		return nil, herr
	}
	up := ws.HTTPUpgrader{
		Timeout: opts.HandshakeTimeout,
		Protocol: func(p string) bool {
			return opts.Subprotocol != "" && strings.EqualFold(p, opts.Subprotocol)
		},
	}
	if up.Timeout == 0 {
		up.Timeout = 10 * time.Second
	}
	nc, rw, hs, err := up.Upgrade(r, w)
	if err != nil {
		if nc != nil {
			_ = nc.Close()
		}
		return nil, err
	}
	limit := opts.ReadLimit
	if limit <= 0 {
		limit = 32 << 10
	}
	// The hijacked writer is not used: writes build their own buffer per batch, so
	// an idle socket holds no write buffer. The reader keeps what the client may
	// already have sent after its handshake.
	return &Conn{
		nc: nc, br: rw.Reader, limit: limit, subprotocol: hs.Protocol,
		pong: make(chan struct{}, 1), done: make(chan struct{}),
	}, nil
}

// Subprotocol is the negotiated subprotocol, "" when none.
func (c *Conn) Subprotocol() string { return c.subprotocol }

func verify(r *http.Request, origins []string) *HandshakeError {
	upgrade := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}
	switch {
	case !r.ProtoAtLeast(1, 1):
		return &HandshakeError{http.StatusUpgradeRequired, fmt.Sprintf("WebSocket handshakes need HTTP/1.1, not %q.", r.Proto), nil}
	case !hasToken(r.Header, "Connection", "upgrade"):
		return &HandshakeError{http.StatusUpgradeRequired, fmt.Sprintf("The Connection header %q does not contain Upgrade.", r.Header.Get("Connection")), upgrade}
	case !hasToken(r.Header, "Upgrade", "websocket"):
		return &HandshakeError{http.StatusUpgradeRequired, fmt.Sprintf("The Upgrade header %q does not contain websocket.", r.Header.Get("Upgrade")), upgrade}
	case r.Method != http.MethodGet:
		return &HandshakeError{http.StatusMethodNotAllowed, "A WebSocket handshake must be a GET.", nil}
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return &HandshakeError{http.StatusBadRequest, fmt.Sprintf("Unsupported WebSocket version %q; only 13 is supported.", r.Header.Get("Sec-WebSocket-Version")), http.Header{"Sec-WebSocket-Version": {"13"}}}
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return &HandshakeError{http.StatusBadRequest, "Exactly one Sec-WebSocket-Key header is required.", nil}
	}
	if v, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(v) != 16 {
		return &HandshakeError{http.StatusBadRequest, "Sec-WebSocket-Key must be 16 bytes in base64.", nil}
	}
	if len(origins) == 1 && origins[0] == "*" {
		return nil
	}
	if refusal := checkOrigin(r, origins); refusal != "" {
		return &HandshakeError{http.StatusForbidden, refusal, nil}
	}
	return nil
}

func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// checkOrigin admits requests without an Origin, from the request's own host, or
// from a host matching one of the patterns; otherwise it says why not.
func checkOrigin(r *http.Request, patterns []string) string {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	u, err := url.Parse(origin)
	if err != nil {
		return fmt.Sprintf("The Origin header %q is not a URL.", origin)
	}
	if strings.EqualFold(r.Host, u.Host) {
		return ""
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, err := path.Match(strings.ToLower(p), strings.ToLower(target)); err == nil && ok {
			return ""
		}
	}
	return fmt.Sprintf("The Origin %q is not allowed.", origin)
}

// Read returns the next text or binary message. It answers pings and records pongs on
// the way. After the peer's close frame (answered with one of ours, unless we sent
// ours first) it returns CloseError; a protocol violation or an oversized message
// sends the matching close frame and returns ProtocolError or ErrReadLimit; an
// error ends the connection's reading for good: later calls return it again.
func (c *Conn) Read() (OpCode, []byte, error) {
	var (
		msg   []byte
		op    OpCode
		state = ws.StateServerSide
	)
	select {
	case <-c.done:
		return 0, nil, c.readErr
	default:
	}
	for {
		h, err := ws.ReadHeaderBuffer(c.br, c.hdr[:])
		if err != nil {
			return 0, nil, c.finish(err)
		}
		if err := ws.CheckHeader(h, state); err != nil {
			_ = c.WriteClose(StatusProtocolError, err.Error())
			return 0, nil, c.finish(ProtocolError{err})
		}
		if h.OpCode.IsControl() {
			p := make([]byte, h.Length)
			if _, err := io.ReadFull(c.br, p); err != nil {
				return 0, nil, c.finish(err)
			}
			ws.Cipher(p, h.Mask, 0)
			switch h.OpCode {
			case ws.OpPing:
				_ = c.writeControl(ws.OpPong, p)
			case ws.OpPong:
				select {
				case c.pong <- struct{}{}:
				default:
				}
			case ws.OpClose:
				return 0, nil, c.finish(c.peerClosed(p))
			}
			continue
		}
		if int64(len(msg))+h.Length > c.limit {
			err := fmt.Errorf("%w: read limited at %d bytes", ErrReadLimit, c.limit)
			_ = c.WriteClose(StatusMessageTooBig, fmt.Sprintf("read limited at %d bytes", c.limit))
			return 0, nil, c.finish(err)
		}
		if h.OpCode != ws.OpContinuation {
			op = h.OpCode
			msg = make([]byte, 0, h.Length)
		}
		start := len(msg)
		msg = slices.Grow(msg, int(h.Length))[:start+int(h.Length)]
		if _, err := io.ReadFull(c.br, msg[start:]); err != nil {
			return 0, nil, c.finish(err)
		}
		ws.Cipher(msg[start:], h.Mask, 0)
		if h.Fin {
			return op, msg, nil
		}
		state = state.Set(ws.StateFragmented)
	}
}

// peerClosed answers the peer's close frame p and returns what Read reports.
func (c *Conn) peerClosed(p []byte) error {
	if len(p) == 0 {
		_ = c.WriteClose(StatusNormalClosure, "")
		return CloseError{Code: StatusNoStatus}
	}
	code, reason := StatusCode(0), ""
	if len(p) >= 2 {
		code, reason = StatusCode(binary.BigEndian.Uint16(p)), string(p[2:])
	}
	if len(p) < 2 || !validCloseCode(code) || !utf8.ValidString(reason) {
		_ = c.WriteClose(StatusProtocolError, "invalid close frame")
		return ProtocolError{errors.New("invalid close frame")}
	}
	_ = c.WriteClose(code, "")
	return CloseError{Code: code, Reason: reason}
}

func validCloseCode(code StatusCode) bool {
	switch {
	case code < 1000 || code >= 5000:
		return false
	case code == 1004 || code == 1005 || code == 1006 || code == 1015:
		return false
	case code >= 1016 && code < 3000:
		return false
	}
	return true
}

func (c *Conn) finish(err error) error {
	c.doneOnce.Do(func() { c.readErr = err; close(c.done) })
	return c.readErr
}

// appendFrame appends a final, unmasked frame of type op carrying p.
func appendFrame(b []byte, op OpCode, p []byte) []byte {
	b = append(b, 0x80|byte(op))
	switch n := len(p); {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, p...)
}

// batchBytes is the most a batch puts in one write; bigger batches take several.
const batchBytes = 64 << 10

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// WriteText writes each of frames as a text message, in order: all of them are
// encoded into one buffer and written with one system call (one per 64 KiB), under
// one write deadline: the batch fails once it has taken between 7/8 of timeout and
// timeout (the deadline on the connection is reused while at least 7/8 of timeout
// remains, which spares resetting the runtime's timer on every batch). A failed or
// timed-out write (errors.Is(err, os.ErrDeadlineExceeded)) may have left a partial
// frame on the wire, so the connection takes no further writes; the caller should
// close it.
func (c *Conn) WriteText(frames [][]byte, timeout time.Duration) error {
	bp := buffers.Get().(*[]byte)
	b := (*bp)[:0]
	c.wmu.Lock()
	err := c.writeBatchLocked(&b, frames, timeout)
	c.wmu.Unlock()
	if cap(b) <= 4*batchBytes {
		*bp = b[:0]
		buffers.Put(bp)
	}
	return err
}

// setDeadlineLocked makes the write deadline now+timeout, or keeps the one set if it
// is no later than that and no more than timeout/8 earlier.
func (c *Conn) setDeadlineLocked(timeout time.Duration) error {
	want := time.Now().Add(timeout)
	if d := want.Sub(c.deadline); d >= 0 && d <= timeout/8 {
		return nil
	}
	if err := c.nc.SetWriteDeadline(want); err != nil {
		return err
	}
	c.deadline = want
	return nil
}

func (c *Conn) writeBatchLocked(bp *[]byte, frames [][]byte, timeout time.Duration) error {
	if c.closeSent {
		return ErrClosed
	}
	if err := c.setDeadlineLocked(timeout); err != nil {
		c.closeSent = true
		return err
	}
	b := *bp
	defer func() { *bp = b }()
	for _, f := range frames {
		if len(b) > 0 && len(b)+len(f)+ws.MaxHeaderSize > batchBytes {
			if _, err := c.nc.Write(b); err != nil {
				c.closeSent = true
				return err
			}
			b = b[:0]
		}
		b = appendFrame(b, ws.OpText, f)
	}
	if len(b) > 0 {
		if _, err := c.nc.Write(b); err != nil {
			c.closeSent = true
			return err
		}
	}
	return nil
}

func (c *Conn) writeControl(op OpCode, p []byte) error {
	var buf [ws.MaxHeaderSize + ws.MaxControlFramePayloadSize]byte
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return ErrClosed
	}
	if op == ws.OpClose {
		c.closeSent = true
	}
	if err := c.setDeadlineLocked(controlTimeout); err != nil {
		c.closeSent = true
		return err
	}
	if _, err := c.nc.Write(appendFrame(buf[:0], op, p)); err != nil {
		c.closeSent = true
		return err
	}
	return nil
}

// Ping sends a ping and waits up to timeout for a pong, which the reader records;
// ErrPongTimeout when none came.
func (c *Conn) Ping(timeout time.Duration) error {
	select {
	case <-c.pong: // a stale or unsolicited pong does not answer this ping
	default:
	}
	if err := c.writeControl(ws.OpPing, nil); err != nil {
		return err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.pong:
		return nil
	case <-c.done:
		return ErrClosed
	case <-t.C:
		return ErrPongTimeout
	}
}

// WriteClose sends a close frame with code and reason (cut to the 123 bytes a control
// frame allows), once; later calls and writes return ErrClosed.
func (c *Conn) WriteClose(code StatusCode, reason string) error {
	if len(reason) > ws.MaxControlFramePayloadSize-2 {
		reason = reason[:ws.MaxControlFramePayloadSize-2]
	}
	var p [ws.MaxControlFramePayloadSize]byte
	binary.BigEndian.PutUint16(p[:], uint16(code))
	n := 2 + copy(p[2:], reason)
	return c.writeControl(ws.OpClose, p[:n])
}

// Close performs the closing handshake: it sends a close frame, waits up to 5 s for
// the reader to see the peer's (or the stream to end), then closes the connection.
// Someone must be calling Read for the peer's close frame to be noticed.
func (c *Conn) Close(code StatusCode, reason string) error {
	if err := c.WriteClose(code, reason); err != nil {
		_ = c.nc.Close()
		return err
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	}
	return c.nc.Close()
}

// CloseNow closes the connection without a closing handshake. It does not wait for
// the write lock, so it also ends a write that is stalled on a full socket buffer.
func (c *Conn) CloseNow() error { return c.nc.Close() }
