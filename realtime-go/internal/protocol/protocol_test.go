package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const id = "0193f5a0-6b7c-7d2e-9f10-2a3b4c5d6e7f"

func TestMalformedFramesAreMalformed(t *testing.T) {
	for _, raw := range []string{"", "not json", "[1,2]", "null", `"auth"`, `{}`, `{"type":5}`, `{"type":""}`, `{"type":"ping"`} {
		if _, err := Parse([]byte(raw)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: err = %v, want ErrMalformed", raw, err)
		}
	}
}

func TestWrongFramesAreRejectedWithACodeAndTheirRef(t *testing.T) {
	cases := map[string]string{
		`{"type":"dance","ref":"r1"}`:                                                           CodeUnknownType,
		`{"type":"subscribe","channel":"user:nope","ref":"r1"}`:                                 CodeBadRequest,
		`{"type":"subscribe","channel":"call:` + id + `","ref":"r1"}`:                           CodeBadRequest,
		`{"type":"subscribe","channel":"post:` + id + `","since":-1,"ref":"r1"}`:                CodeBadRequest,
		`{"type":"subscribe","channel":"post:` + id + `","since":"x","ref":"r1"}`:               CodeBadRequest,
		`{"type":"auth","ref":"r1"}`:                                                            CodeBadRequest,
		`{"type":"call.signal","room_id":"` + id + `","kind":"hack","payload":{},"ref":"r1"}`:   CodeBadRequest,
		`{"type":"call.signal","room_id":"` + id + `","kind":"offer","payload":[1],"ref":"r1"}`: CodeBadRequest,
		`{"type":"presence.query","conversation_id":"x","ref":"r1"}`:                            CodeBadRequest,
	}
	for raw, code := range cases {
		_, err := Parse([]byte(raw))
		var rej *Reject
		if !errors.As(err, &rej) || rej.Code != code || rej.Ref != "r1" {
			t.Errorf("%s: err = %v, want %s with ref", raw, err, code)
		}
	}
}

func TestValidFramesParse(t *testing.T) {
	in, err := Parse([]byte(`{"type":"subscribe","channel":"conversation:` + id + `","since":42,"extra":true}`))
	if err != nil || in.Since == nil || *in.Since != 42 || in.Channel != "conversation:"+id {
		t.Fatalf("subscribe: %+v %v", in, err)
	}
	in, err = Parse([]byte(`{"type":"call.signal","room_id":"` + id + `","kind":"ice","to":"` + id + `","payload":{"candidate":"c"}}`))
	if err != nil || in.Kind != "ice" || !strings.Contains(string(in.Payload), "candidate") {
		t.Fatalf("signal: %+v %v", in, err)
	}
}

func TestEventFrameWrapsTheBody(t *testing.T) {
	f := EventFrame(17, "post:"+id, []byte(`{"event_type":"x","data":{"a":1}}`))
	var m map[string]any
	if err := json.Unmarshal(f, &m); err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	if m["type"] != "event" || m["id"].(float64) != 17 || m["channel"] != "post:"+id || m["event_type"] != "x" {
		t.Fatalf("frame = %v", m)
	}
}

func TestLimiterAllowsBurstThenRate(t *testing.T) {
	now := time.Unix(0, 0)
	l := NewLimiter(10, 5, now)
	for i := range 5 {
		if !l.Allow(now) {
			t.Fatalf("burst frame %d refused", i)
		}
	}
	if l.Allow(now) {
		t.Fatal("frame beyond the burst allowed")
	}
	if !l.Allow(now.Add(100 * time.Millisecond)) {
		t.Fatal("a token should be back after 1/rate")
	}
}
