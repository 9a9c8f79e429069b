// Package protocol is the WebSocket wire format (docs/realtime.md): client frames are
// JSON text objects with a "type"; server frames likewise. Parsing separates frames
// that are not JSON objects at all (the socket is closed) from frames that are
// well-formed but wrong (they are rejected with an error frame).
package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"platform/realtime/internal/route"
)

// Client frame types.
const (
	TypeAuth          = "auth"
	TypeReauth        = "reauth"
	TypeSubscribe     = "subscribe"
	TypeUnsubscribe   = "unsubscribe"
	TypeCallJoin      = "call.join"
	TypeCallLeave     = "call.leave"
	TypeCallSignal    = "call.signal"
	TypePresenceQuery = "presence.query"
	TypePing          = "ping"
)

// Error codes sent in error frames.
const (
	CodeBadRequest   = "bad_request"
	CodeUnknownType  = "unknown_type"
	CodeForbidden    = "forbidden"
	CodeNotAuthed    = "not_authenticated"
	CodeUnavailable  = "unavailable"
	CodeTooManySubs  = "too_many_subscriptions"
	CodeNotJoined    = "not_joined"
	CodeInvalidToken = "invalid_token"
)

// ErrMalformed means the frame is not a JSON object with a string "type".
var ErrMalformed = errors.New("malformed frame")

// Reject is a well-formed frame refused with an error code.
type Reject struct {
	Code    string
	Message string
	Ref     string
}

func (r *Reject) Error() string { return r.Code + ": " + r.Message }

// Inbound is any client frame; which fields matter depends on Type.
type Inbound struct {
	Type           string          `json:"type"`
	Ref            string          `json:"ref,omitempty"`
	Token          string          `json:"token,omitempty"`
	Channel        string          `json:"channel,omitempty"`
	Since          *int64          `json:"since,omitempty"`
	RoomID         string          `json:"room_id,omitempty"`
	Kind           string          `json:"kind,omitempty"`
	To             string          `json:"to,omitempty"`
	Payload        json.RawMessage `json:"payload,omitempty"`
	ConversationID string          `json:"conversation_id,omitempty"`
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

const maxTokenLen = 8192

// Parse decodes and validates one client frame. It returns ErrMalformed (close the
// socket) or a *Reject (answer with an error frame).
func Parse(data []byte) (Inbound, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil || probe == nil {
		return Inbound{}, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	var typ string
	if err := json.Unmarshal(probe["type"], &typ); err != nil || typ == "" {
		return Inbound{}, fmt.Errorf("%w: no string \"type\"", ErrMalformed)
	}
	var in Inbound
	ref := ""
	_ = json.Unmarshal(probe["ref"], &ref)
	if err := json.Unmarshal(data, &in); err != nil {
		return Inbound{Type: typ}, &Reject{CodeBadRequest, "a field has the wrong type", ref}
	}
	bad := func(msg string) (Inbound, error) { return in, &Reject{CodeBadRequest, msg, in.Ref} }
	if len(in.Ref) > 64 {
		in.Ref = ""
		return bad("ref is longer than 64 characters")
	}
	switch in.Type {
	case TypeAuth, TypeReauth:
		if in.Token == "" || len(in.Token) > maxTokenLen {
			return bad("token is required")
		}
	case TypeSubscribe, TypeUnsubscribe:
		kind, _, err := route.ParseChannel(in.Channel)
		if err != nil {
			return bad(err.Error())
		}
		if kind == route.Call {
			return bad("call channels are joined with call.join")
		}
		if in.Since != nil && *in.Since < 0 {
			return bad("since must not be negative")
		}
	case TypeCallJoin, TypeCallLeave:
		if !uuidRe.MatchString(in.RoomID) {
			return bad("room_id must be a lowercase UUID")
		}
		if len(in.Token) > 512 {
			return bad("token is too long")
		}
	case TypeCallSignal:
		if !uuidRe.MatchString(in.RoomID) {
			return bad("room_id must be a lowercase UUID")
		}
		switch in.Kind {
		case "offer", "answer", "ice":
		default:
			return bad("kind must be offer, answer or ice")
		}
		if in.To != "" && !uuidRe.MatchString(in.To) {
			return bad("to must be a lowercase UUID")
		}
		if p := bytes.TrimSpace(in.Payload); len(p) == 0 || (p[0] != '{' && p[0] != '"') {
			return bad("payload must be a JSON object or string")
		}
	case TypePresenceQuery:
		if !uuidRe.MatchString(in.ConversationID) {
			return bad("conversation_id must be a lowercase UUID")
		}
	case TypePing:
	default:
		return in, &Reject{CodeUnknownType, fmt.Sprintf("unknown frame type %q", truncate(in.Type, 40)), in.Ref}
	}
	return in, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// EventFrame wraps a routed unit's body for one channel:
// {"type":"event","id":<seq>,"channel":"<channel>", ...body fields}.
func EventFrame(seq int64, channel string, body []byte) []byte {
	out := make([]byte, 0, len(body)+len(channel)+48)
	out = append(out, `{"type":"event","id":`...)
	out = strconv.AppendInt(out, seq, 10)
	out = append(out, `,"channel":`...)
	out = strconv.AppendQuote(out, channel)
	if len(body) > 2 {
		out = append(out, ',')
		out = append(out, body[1:]...)
	} else {
		out = append(out, '}')
	}
	return out
}

// Frame marshals a server frame of type typ with fields.
func Frame(typ string, fields map[string]any) []byte {
	m := make(map[string]any, len(fields)+1)
	for k, v := range fields {
		m[k] = v
	}
	m["type"] = typ
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("protocol: frame %s: %v", typ, err)) // fields are plain data
	}
	return b
}

// ErrorFrame is {"type":"error","code","message","ref"}.
func ErrorFrame(code, message, ref string) []byte {
	f := map[string]any{"code": code, "message": message}
	if ref != "" {
		f["ref"] = ref
	}
	return Frame("error", f)
}

// Limiter is a token bucket: rate frames per second, up to burst at once.
type Limiter struct {
	rate, burst, tokens float64
	last                time.Time
}

// NewLimiter starts full.
func NewLimiter(rate float64, burst int, now time.Time) *Limiter {
	return &Limiter{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// Allow takes one token if there is one.
func (l *Limiter) Allow(now time.Time) bool {
	l.tokens += now.Sub(l.last).Seconds() * l.rate
	if l.tokens > l.burst {
		l.tokens = l.burst
	}
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
