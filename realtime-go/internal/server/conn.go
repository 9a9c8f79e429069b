package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"platform/realtime/internal/auth"
	"platform/realtime/internal/hub"
	"platform/realtime/internal/protocol"
	"platform/realtime/internal/route"
	"platform/realtime/internal/store"
	"platform/realtime/internal/wsconn"
)

// Close codes (RFC 6455 section 7.4.1).
const (
	CloseGoingAway     = wsconn.StatusGoingAway               // 1001: node shutting down
	CloseUnsupported   = wsconn.StatusUnsupportedData         // 1003: binary frame
	CloseMalformed     = wsconn.StatusInvalidFramePayloadData // 1007: not a JSON object
	ClosePolicy        = wsconn.StatusPolicyViolation         // 1008: auth, rate limit, protocol errors
	CloseTooBig        = wsconn.StatusMessageTooBig           // 1009: frame over MaxFrameBytes
	CloseTryAgainLater = wsconn.StatusTryAgainLater           // 1013: slow consumer
	CloseInternal      = wsconn.StatusInternalError           // 1011
)

type conn struct {
	s    *Server
	ws   *wsconn.Conn
	sub  *hub.Subscriber
	ctx  context.Context
	stop context.CancelFunc

	principal auth.Principal
	expMu     sync.Mutex // guards the timers below
	expTimer  *time.Timer
	warnTimer *time.Timer
	pingTimer *time.Timer

	closeOnce sync.Once
	closing   chan struct{} // closed once a close handshake started by closeWith is over
	limiter   *protocol.Limiter
	errors    int
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if !isUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		problem(w, http.StatusUpgradeRequired, "Upgrade Required", "This endpoint speaks WebSocket only.")
		return
	}
	if s.draining.Load() {
		w.Header().Set("Retry-After", "1")
		problem(w, http.StatusServiceUnavailable, "Service Unavailable", "This node is shutting down.")
		return
	}
	var principal *auth.Principal
	if tok, found := tokenFromRequest(r); found {
		if tok == "" {
			s.Metrics.Rejected.WithLabelValues("bad_credentials").Inc()
			problem(w, http.StatusUnauthorized, "Invalid token", "The Authorization header must be 'Bearer <token>'.")
			return
		}
		p, err := s.Verifier.Verify(r.Context(), tok)
		if err != nil {
			code, msg := authStatus(err)
			s.Metrics.Rejected.WithLabelValues("invalid_token").Inc()
			problem(w, code, "Invalid token", msg)
			return
		}
		principal = &p
	}
	// With origins "*" no Origin is checked: authentication is by bearer token only,
	// never by cookies, so a foreign page gains nothing by opening a socket with its
	// visitor's browser.
	ws, err := wsconn.Accept(w, r, wsconn.Options{
		Subprotocol: Subprotocol, Origins: s.Cfg.Origins(), ReadLimit: s.Cfg.MaxFrameBytes,
	})
	if err != nil {
		s.Metrics.Rejected.WithLabelValues("handshake").Inc()
		var herr *wsconn.HandshakeError
		if errors.As(err, &herr) {
			for k, v := range herr.Header {
				w.Header()[k] = v
			}
			problem(w, herr.Status, http.StatusText(herr.Status), herr.Msg)
		}
		return
	}
	// Whatever ended the session, the TCP connection goes with it.
	defer ws.CloseNow()
	s.conns.Add(1)
	defer s.conns.Done()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	c := &conn{
		s: s, ws: ws, ctx: ctx, stop: stop, closing: make(chan struct{}),
		limiter: protocol.NewLimiter(s.Cfg.RateLimit, s.Cfg.RateBurst, time.Now()),
	}
	c.run(principal)
	c.drainReads()
	// Let a close handshake we started finish (Close bounds it at ~5 s) before
	// the deferred CloseNow drops the connection.
	select {
	case <-c.closing:
	case <-time.After(11 * time.Second):
	}
}

// closeWith ends the socket with a close frame (once), counting why.
func (c *conn) closeWith(code wsconn.StatusCode, reason, drop string) {
	c.closeOnce.Do(func() {
		c.s.Metrics.Closes.WithLabelValues(strconv.Itoa(int(code))).Inc()
		if drop != "" {
			c.s.Metrics.Drops.WithLabelValues(drop).Inc()
		}
		c.stop()
		go func() {
			defer close(c.closing)
			_ = c.ws.Close(code, reason)
		}()
	})
}

func (c *conn) run(principal *auth.Principal) {
	if principal == nil {
		p, ok := c.awaitAuth()
		if !ok {
			return
		}
		principal = &p
	}
	c.principal = *principal
	c.sub = hub.NewSubscriber(principal.UserID, c.s.Cfg.SendBuffer)
	log := c.s.Log.With("user_id", principal.UserID, "conn", c.sub.ID)
	c.s.Metrics.Accepted.Inc()
	c.s.Metrics.Connections.Inc()
	if c.s.Hub.Register(c.sub) {
		if err := c.s.Store.Online(c.ctx, []string{principal.UserID}); err != nil {
			log.Warn("presence online failed", "err", err.Error())
		}
	}
	own := route.Name(route.User, principal.UserID)
	c.s.Hub.Subscribe(own, c.sub)
	defer c.cleanup()

	c.sub.Offer(0, protocol.Frame("welcome", map[string]any{
		"user_id": principal.UserID, "node": c.s.Cfg.NodeID, "channels": []string{own},
		"expires_at": principal.ExpiresAt.UTC().Format(time.RFC3339),
	}))
	c.armExpiry(principal.ExpiresAt)

	// Two goroutines per socket (reader, writer); pings and the drain notice are
	// timers and callbacks, which cost no stack while idle.
	stopDrain := context.AfterFunc(c.s.drainCtx, func() {
		c.closeWith(CloseGoingAway, "server shutting down", "")
	})
	defer stopDrain()
	c.expMu.Lock()
	c.pingTimer = time.AfterFunc(c.s.Cfg.PingInterval, c.ping)
	c.expMu.Unlock()
	var wg sync.WaitGroup
	wg.Go(c.writeLoop)
	c.readLoop(log)
	c.stop()
	wg.Wait()
}

func (c *conn) cleanup() {
	var rooms []string
	for _, ch := range c.sub.Channels() {
		if room, ok := strings.CutPrefix(ch, route.Call+":"); ok {
			rooms = append(rooms, room)
		}
	}
	c.expMu.Lock()
	if c.expTimer != nil {
		c.expTimer.Stop()
		c.warnTimer.Stop()
	}
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	c.expMu.Unlock()
	c.s.Metrics.Connections.Dec()
	if c.s.Hub.Remove(c.sub) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := c.s.Store.Offline(ctx, c.sub.User); err != nil {
			c.s.Log.Warn("presence offline failed", "user_id", c.sub.User, "err", err.Error())
		}
	}
	for _, room := range rooms {
		c.announceCall(room, "call.member_left")
	}
}

// awaitAuth reads the first frame, which must be a valid auth frame within AuthTimeout.
func (c *conn) awaitAuth() (auth.Principal, bool) {
	timer := time.AfterFunc(c.s.Cfg.AuthTimeout, func() {
		c.s.Metrics.Rejected.WithLabelValues("auth_timeout").Inc()
		c.closeWith(ClosePolicy, "authentication timeout", "")
	})
	defer timer.Stop()
	typ, data, err := c.ws.Read()
	if err != nil || c.ctx.Err() != nil {
		c.readFailed(err)
		return auth.Principal{}, false
	}
	if typ != wsconn.OpText {
		c.closeWith(CloseUnsupported, "binary frames are not supported", "binary")
		return auth.Principal{}, false
	}
	in, err := protocol.Parse(data)
	if errors.Is(err, protocol.ErrMalformed) {
		c.closeWith(CloseMalformed, "malformed frame", "malformed")
		return auth.Principal{}, false
	}
	if err != nil || in.Type != protocol.TypeAuth {
		c.s.Metrics.Rejected.WithLabelValues("not_authenticated").Inc()
		c.closeWith(ClosePolicy, "authenticate first: send an auth frame", "")
		return auth.Principal{}, false
	}
	p, err := c.s.Verifier.Verify(c.ctx, in.Token)
	if err != nil {
		c.s.Metrics.Rejected.WithLabelValues("invalid_token").Inc()
		if errors.Is(err, auth.ErrKeysUnavailable) {
			c.closeWith(CloseTryAgainLater, "token keys unavailable", "")
		} else {
			_, msg := authStatus(err)
			c.closeWith(ClosePolicy, truncate("invalid token: "+msg, 120), "")
		}
		return auth.Principal{}, false
	}
	return p, true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// drainReads reads, and ignores, what the client sends after we started closing,
// until its close frame (or the end of the connection), so the closing handshake
// completes.
func (c *conn) drainReads() {
	for {
		if _, _, err := c.ws.Read(); err != nil {
			return
		}
	}
}

func (c *conn) readFailed(err error) {
	if errors.Is(err, wsconn.ErrReadLimit) {
		// Read has already written the 1009 close frame; end the connection.
		c.closeOnce.Do(func() {
			c.s.Metrics.Closes.WithLabelValues(strconv.Itoa(int(CloseTooBig))).Inc()
			c.s.Metrics.Drops.WithLabelValues("too_big").Inc()
			c.stop()
			_ = c.ws.CloseNow()
			close(c.closing)
		})
		return
	}
	c.closeOnce.Do(func() { c.stop(); close(c.closing) })
}

// armExpiry schedules the auth.expiring warning and the close at exp (plus leeway).
func (c *conn) armExpiry(exp time.Time) {
	c.expMu.Lock()
	defer c.expMu.Unlock()
	if c.expTimer != nil {
		c.expTimer.Stop()
		c.warnTimer.Stop()
	}
	until := time.Until(exp) + c.s.Cfg.JWTLeeway
	c.expTimer = time.AfterFunc(until, func() {
		c.closeWith(ClosePolicy, "token expired", "token_expired")
	})
	c.warnTimer = time.AfterFunc(max(until-c.s.Cfg.ExpiryWarning, 0), func() {
		c.sub.Offer(0, protocol.Frame("auth.expiring", map[string]any{"expires_at": exp.UTC().Format(time.RFC3339)}))
	})
}

// writeLoop writes whatever is queued, as one batch per wake-up (one write system
// call, one deadline), until the socket ends. A batch that takes longer than
// WriteTimeout drops the socket.
func (c *conn) writeLoop() {
	// One channel to wait on: the end of the socket and a dropped subscriber wake the
	// writer through it too, which is cheaper per frame than a select.
	var ended atomic.Bool // c.ctx is done; cheaper to check per wake-up than ctx.Err
	stopWake := context.AfterFunc(c.ctx, func() {
		ended.Store(true)
		c.sub.Wake()
	})
	defer stopWake()
	var batch [][]byte
	for {
		<-c.sub.Ready()
		if ended.Load() {
			return
		}
		batch = c.sub.Take(batch[:0])
		if c.sub.Dropped() {
			c.closeWith(CloseTryAgainLater, "slow consumer: send buffer full", "slow_consumer")
			return
		}
		if err := c.ws.WriteText(batch, c.s.Cfg.WriteTimeout); err != nil {
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				c.writeTimedOut()
			case c.ctx.Err() == nil:
				c.closeWith(CloseTryAgainLater, "slow consumer: write failed", "slow_consumer")
			}
			return
		}
		clear(batch) // let the frames go while idle
	}
}

// writeTimedOut drops a socket whose writes stalled: part of a frame may be on the
// wire, so no close frame can follow; the connection is closed outright.
func (c *conn) writeTimedOut() {
	c.closeOnce.Do(func() {
		c.s.Metrics.Closes.WithLabelValues(strconv.Itoa(int(CloseTryAgainLater))).Inc()
		c.s.Metrics.Drops.WithLabelValues("slow_consumer").Inc()
		c.stop()
		_ = c.ws.CloseNow()
		close(c.closing)
	})
	// A close already under way cannot get its frame past the stalled write either.
	_ = c.ws.CloseNow()
}

// ping runs on its timer every PingInterval; an unanswered ping drops the socket.
func (c *conn) ping() {
	if c.ctx.Err() != nil {
		return
	}
	err := c.ws.Ping(c.s.Cfg.PongTimeout)
	if c.ctx.Err() != nil {
		return
	}
	if err != nil {
		c.s.Metrics.Drops.WithLabelValues("ping_timeout").Inc()
		c.closeOnce.Do(func() { c.stop(); _ = c.ws.CloseNow(); close(c.closing) })
		return
	}
	c.expMu.Lock()
	c.pingTimer.Reset(c.s.Cfg.PingInterval)
	c.expMu.Unlock()
}

func (c *conn) reply(frame []byte) { c.sub.Offer(0, frame) }

// refuse answers a valid request that is not allowed; it is not a protocol error.
func (c *conn) refuse(code, msg, ref string) {
	c.reply(protocol.ErrorFrame(code, msg, ref))
}

// reject answers a frame that breaks the protocol; too many close the socket.
func (c *conn) reject(code, msg, ref string) bool {
	c.reply(protocol.ErrorFrame(code, msg, ref))
	c.errors++
	if c.errors > c.s.Cfg.MaxProtocolErrs {
		c.closeWith(ClosePolicy, "too many invalid frames", "protocol_errors")
		return false
	}
	return true
}

func (c *conn) readLoop(log interface{ Warn(string, ...any) }) {
	for {
		typ, data, err := c.ws.Read()
		if err != nil || c.ctx.Err() != nil {
			c.readFailed(err)
			return
		}
		if !c.limiter.Allow(time.Now()) {
			c.closeWith(ClosePolicy, "rate limit exceeded", "rate_limited")
			return
		}
		if typ != wsconn.OpText {
			c.closeWith(CloseUnsupported, "binary frames are not supported", "binary")
			return
		}
		in, err := protocol.Parse(data)
		var rej *protocol.Reject
		switch {
		case errors.Is(err, protocol.ErrMalformed):
			c.s.Metrics.FramesIn.WithLabelValues("other").Inc()
			c.closeWith(CloseMalformed, "malformed frame: "+strings.TrimPrefix(err.Error(), "malformed frame: "), "malformed")
			return
		case errors.As(err, &rej):
			c.s.Metrics.FramesIn.WithLabelValues(frameLabel(in.Type)).Inc()
			if !c.reject(rej.Code, rej.Message, rej.Ref) {
				return
			}
			continue
		}
		c.s.Metrics.FramesIn.WithLabelValues(in.Type).Inc()
		if err := c.handle(in); err != nil {
			log.Warn("frame failed", "type", in.Type, "err", err.Error())
			c.reply(protocol.ErrorFrame(protocol.CodeUnavailable, "temporarily unavailable; retry", in.Ref))
		}
		if c.ctx.Err() != nil {
			return
		}
	}
}

func frameLabel(t string) string {
	switch t {
	case protocol.TypeAuth, protocol.TypeReauth, protocol.TypeSubscribe, protocol.TypeUnsubscribe,
		protocol.TypeCallJoin, protocol.TypeCallLeave, protocol.TypeCallSignal, protocol.TypePresenceQuery, protocol.TypePing:
		return t
	}
	return "other"
}

// handle answers one valid frame; an error means a dependency failed.
func (c *conn) handle(in protocol.Inbound) error {
	switch in.Type {
	case protocol.TypePing:
		c.reply(protocol.Frame("pong", withRef(nil, in.Ref)))
	case protocol.TypeAuth:
		c.reject(protocol.CodeBadRequest, "already authenticated; use reauth to present a fresh token", in.Ref)
	case protocol.TypeReauth:
		return c.reauth(in)
	case protocol.TypeSubscribe:
		return c.subscribe(in)
	case protocol.TypeUnsubscribe:
		c.s.Hub.Unsubscribe(in.Channel, c.sub)
		c.reply(protocol.Frame("unsubscribed", withRef(map[string]any{"channel": in.Channel}, in.Ref)))
	case protocol.TypeCallJoin:
		return c.callJoin(in)
	case protocol.TypeCallLeave:
		ch := route.Name(route.Call, in.RoomID)
		if c.sub.Subscribed(ch) {
			c.s.Hub.Unsubscribe(ch, c.sub)
			c.announceCall(in.RoomID, "call.member_left")
		}
		c.reply(protocol.Frame("call.left", withRef(map[string]any{"room_id": in.RoomID}, in.Ref)))
	case protocol.TypeCallSignal:
		return c.callSignal(in)
	case protocol.TypePresenceQuery:
		return c.presence(in)
	}
	return nil
}

func withRef(m map[string]any, ref string) map[string]any {
	if m == nil {
		m = map[string]any{}
	}
	if ref != "" {
		m["ref"] = ref
	}
	return m
}

func (c *conn) reauth(in protocol.Inbound) error {
	p, err := c.s.Verifier.Verify(c.ctx, in.Token)
	if errors.Is(err, auth.ErrKeysUnavailable) {
		return err
	}
	if err != nil {
		_, msg := authStatus(err)
		c.refuse(protocol.CodeInvalidToken, msg, in.Ref)
		return nil
	}
	if p.UserID != c.principal.UserID {
		c.refuse(protocol.CodeForbidden, "the token belongs to another user", in.Ref)
		return nil
	}
	c.principal = p
	c.armExpiry(p.ExpiresAt)
	c.reply(protocol.Frame("reauthed", withRef(map[string]any{"expires_at": p.ExpiresAt.UTC().Format(time.RFC3339)}, in.Ref)))
	return nil
}

func (c *conn) subscribe(in protocol.Inbound) error {
	kind, id, _ := route.ParseChannel(in.Channel) // checked by Parse
	switch kind {
	case route.User:
		if id != c.principal.UserID {
			c.refuse(protocol.CodeForbidden, "a user channel is its owner's only", in.Ref)
			return nil
		}
	case route.Conversation:
		ok, err := c.s.Store.IsMember(c.ctx, id, c.principal.UserID)
		if err != nil {
			return err
		}
		if !ok {
			c.refuse(protocol.CodeForbidden, "not a participant of this conversation", in.Ref)
			return nil
		}
	}
	if !c.sub.Subscribed(in.Channel) && len(c.sub.Channels()) >= c.s.Cfg.MaxSubs {
		c.refuse(protocol.CodeTooManySubs, fmt.Sprintf("at most %d subscriptions per socket", c.s.Cfg.MaxSubs), in.Ref)
		return nil
	}
	if in.Since == nil {
		c.s.Hub.Subscribe(in.Channel, c.sub)
		c.reply(protocol.Frame("subscribed", withRef(map[string]any{"channel": in.Channel}, in.Ref)))
		return nil
	}
	// Park live frames while the missed ones are queued, so the socket sees the
	// replay first; frames already sent are skipped by sequence number.
	c.sub.Hold()
	defer c.sub.Release()
	c.s.Hub.Subscribe(in.Channel, c.sub)
	entries, complete, err := c.s.Store.History(c.ctx, in.Channel, *in.Since)
	if err != nil {
		return err
	}
	var frames [][]byte
	for _, e := range entries {
		if e.Allows(c.principal.UserID) && c.sub.Seen(e.Seq) {
			frames = append(frames, protocol.EventFrame(e.Seq, in.Channel, e.Body))
		}
	}
	if err := c.sub.Push(c.ctx, protocol.Frame("subscribed", withRef(map[string]any{
		"channel": in.Channel, "since": *in.Since, "replayed": len(frames), "complete": complete,
	}, in.Ref))); err != nil {
		return nil
	}
	for _, f := range frames {
		if err := c.sub.Push(c.ctx, f); err != nil {
			return nil
		}
	}
	c.s.Metrics.Replayed.Add(float64(len(frames)))
	return nil
}

func tokenHash(token string) string {
	if token == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func (c *conn) callJoin(in protocol.Inbound) error {
	ch := route.Name(route.Call, in.RoomID)
	if c.sub.Subscribed(ch) {
		c.reject(protocol.CodeBadRequest, "already joined", in.Ref)
		return nil
	}
	res, err := c.s.Store.JoinCall(c.ctx, in.RoomID, c.principal.UserID, tokenHash(in.Token), time.Now())
	if err != nil {
		return err
	}
	if res != store.JoinOK {
		c.refuse(res, "the call room refused the join: "+strings.ReplaceAll(res, "_", " "), in.Ref)
		return nil
	}
	c.s.Hub.Subscribe(ch, c.sub)
	members, err := c.s.Store.CallMembers(c.ctx, in.RoomID)
	if err != nil {
		return err
	}
	c.reply(protocol.Frame("call.joined", withRef(map[string]any{"room_id": in.RoomID, "members": members}, in.Ref)))
	c.announceCall(in.RoomID, "call.member_joined")
	return nil
}

func (c *conn) announceCall(room, typ string) {
	frame := protocol.Frame(typ, map[string]any{"room_id": room, "user_id": c.principal.UserID})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.s.Relay.Publish(ctx, RelayMsg{Room: room, From: c.principal.UserID, Frame: frame}); err != nil {
		c.s.Log.Warn("call announce failed", "room_id", room, "err", err.Error())
	}
}

func (c *conn) callSignal(in protocol.Inbound) error {
	ch := route.Name(route.Call, in.RoomID)
	if !c.sub.Subscribed(ch) {
		c.refuse(protocol.CodeNotJoined, "join the call room first", in.Ref)
		return nil
	}
	state, err := c.s.Store.RoomOpen(c.ctx, in.RoomID, time.Now())
	if err != nil {
		return err
	}
	if state != store.JoinOK {
		c.s.Hub.Unsubscribe(ch, c.sub)
		c.refuse(state, "the call room is no longer open", in.Ref)
		return nil
	}
	fields := map[string]any{"room_id": in.RoomID, "from": c.principal.UserID, "kind": in.Kind, "payload": in.Payload}
	if in.To != "" {
		fields["to"] = in.To
	}
	return c.s.Relay.Publish(c.ctx, RelayMsg{Room: in.RoomID, From: c.principal.UserID, To: in.To, Frame: protocol.Frame("call.signal", fields)})
}

func (c *conn) presence(in protocol.Inbound) error {
	ok, err := c.s.Store.IsMember(c.ctx, in.ConversationID, c.principal.UserID)
	if err != nil {
		return err
	}
	if !ok {
		c.refuse(protocol.CodeForbidden, "not a participant of this conversation", in.Ref)
		return nil
	}
	members, err := c.s.Store.Members(c.ctx, in.ConversationID)
	if err != nil {
		return err
	}
	states, err := c.s.Store.QueryPresence(c.ctx, members)
	if err != nil {
		return err
	}
	c.reply(protocol.Frame("presence", withRef(map[string]any{"conversation_id": in.ConversationID, "users": states}, in.Ref)))
	return nil
}
