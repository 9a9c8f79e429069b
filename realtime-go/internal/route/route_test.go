package route

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"platform/realtime/internal/events"
)

const (
	alice = "0193f5a0-0000-7000-8000-00000000000a"
	bob   = "0193f5a0-0000-7000-8000-00000000000b"
	carol = "0193f5a0-0000-7000-8000-00000000000c"
	conv  = "0193f5a0-0000-7000-8000-0000000000c1"
	post  = "0193f5a0-0000-7000-8000-0000000000f1"
	cmt   = "0193f5a0-0000-7000-8000-0000000000e1"
	room  = "0193f5a0-0000-7000-8000-0000000000a1"
)

func ev(t *testing.T, typ string, data map[string]any) events.Event {
	t.Helper()
	raw, _ := json.Marshal(data)
	d, err := events.DecodeData(typ, raw)
	if err != nil {
		t.Fatalf("test event %s: %v", typ, err)
	}
	return events.Event{
		Envelope: events.Envelope{ID: "0193f5a1-7c2d-7e3f-8a4b-000000000001", Type: typ, Time: time.Unix(1700000000, 0)},
		Data:     d, Raw: raw,
	}
}

func message(participants ...string) map[string]any {
	return map[string]any{
		"message_id": cmt, "conversation_id": conv, "sender_id": alice, "participant_ids": participants,
		"text": "مرحبا", "reply_to_id": nil, "attachments": []any{}, "created_at": "2025-01-01T00:00:00Z", "edited_at": nil,
	}
}

func TestMessageGoesToTheConversationAndEachParticipantOnlyWithTheirAccessList(t *testing.T) {
	plan := For(ev(t, events.MessageSent, message(alice, bob)))
	if len(plan.Units) != 1 {
		t.Fatalf("units = %d", len(plan.Units))
	}
	u := plan.Units[0]
	want := []string{"conversation:" + conv, "user:" + alice, "user:" + bob}
	if strings.Join(u.Channels, ",") != strings.Join(want, ",") {
		t.Fatalf("channels = %v", u.Channels)
	}
	if strings.Join(u.ACL, ",") != alice+","+bob {
		t.Fatalf("acl = %v: a non-participant subscribed to the conversation must be excluded", u.ACL)
	}
	if plan.Members == nil || len(plan.Members.UserIDs) != 2 {
		t.Fatalf("members update missing: %+v", plan.Members)
	}
	var body map[string]any
	if err := json.Unmarshal(u.Body, &body); err != nil || body["event_type"] != events.MessageSent || body["data"].(map[string]any)["text"] != "مرحبا" {
		t.Fatalf("body = %s", u.Body)
	}
}

func TestCommentPostChannelCarriesNoTextOrUserIdsAndAuthorGetsTheFullEvent(t *testing.T) {
	plan := For(ev(t, events.CommentCreated, map[string]any{
		"comment_id": cmt, "post_id": post, "post_author_id": alice, "author_id": bob, "parent_id": nil,
		"text": "secret words", "mentions": []string{carol}, "created_at": "2025-01-01T00:00:00Z",
		"updated_at": "2025-01-01T00:00:00Z", "comment_count": 3,
	}))
	if len(plan.Units) != 2 {
		t.Fatalf("units = %d", len(plan.Units))
	}
	public := plan.Units[0]
	if public.Channels[0] != "post:"+post || public.ACL != nil {
		t.Fatalf("public unit = %+v", public)
	}
	for _, leak := range []string{"secret words", bob, alice, carol} {
		if strings.Contains(string(public.Body), leak) {
			t.Fatalf("post channel leaks %q: %s", leak, public.Body)
		}
	}
	if !strings.Contains(string(public.Body), `"comment_count":3`) {
		t.Fatalf("post channel lacks the count: %s", public.Body)
	}
	author := plan.Units[1]
	if author.Channels[0] != "user:"+alice || !strings.Contains(string(author.Body), "secret words") {
		t.Fatalf("author unit = %+v %s", author, author.Body)
	}
}

func TestOwnCommentDoesNotNotifyTheAuthor(t *testing.T) {
	plan := For(ev(t, events.CommentCreated, map[string]any{
		"comment_id": cmt, "post_id": post, "post_author_id": alice, "author_id": alice, "parent_id": nil,
		"text": "x", "mentions": []string{}, "created_at": "2025-01-01T00:00:00Z",
		"updated_at": "2025-01-01T00:00:00Z", "comment_count": 1,
	}))
	if len(plan.Units) != 1 {
		t.Fatalf("units = %d, want only the post channel", len(plan.Units))
	}
}

func TestReactionPublicViewHasCountsOnly(t *testing.T) {
	plan := For(ev(t, events.ReactionAdded, map[string]any{
		"target_type": "post", "target_id": post, "post_id": post, "target_author_id": alice, "user_id": bob,
		"kind": "love", "at": "2025-01-01T00:00:00Z", "counts": map[string]int{"love": 2},
	}))
	if len(plan.Units) != 2 || strings.Contains(string(plan.Units[0].Body), bob) {
		t.Fatalf("plan = %+v", plan)
	}
	if plan.Units[1].Channels[0] != "user:"+alice {
		t.Fatalf("author not notified: %v", plan.Units[1].Channels)
	}
}

func TestNotificationGoesToItsUserOnly(t *testing.T) {
	plan := For(ev(t, events.NotificationCreated, map[string]any{
		"notification_id": cmt, "user_id": bob, "type": "comment", "actor_ids": []string{alice}, "actor_count": 1,
		"subject_type": "post", "subject_id": post, "summary": "s", "created_at": "2025-01-01T00:00:00Z",
		"updated_at": "2025-01-01T00:00:00Z", "read": false,
	}))
	if len(plan.Units) != 1 || len(plan.Units[0].Channels) != 1 || plan.Units[0].Channels[0] != "user:"+bob {
		t.Fatalf("plan = %+v", plan)
	}
}

func TestCallEventsChangeRoomStateAndClosingIsLiveOnly(t *testing.T) {
	p := For(ev(t, events.CallTokenIssued, map[string]any{
		"room_id": room, "user_id": bob, "token_sha256": strings.Repeat("ab", 32), "expires_at": "2025-01-01T01:00:00Z",
	}))
	if p.Call == nil || p.Call.Kind != "token_issued" || p.Call.UserID != bob || len(p.Units) != 0 {
		t.Fatalf("token plan = %+v", p)
	}
	c := For(ev(t, events.CallRoomClosed, map[string]any{"room_id": room, "closed_at": "2025-01-01T00:30:00Z", "reason": "closed"}))
	if c.Call == nil || c.Call.Kind != "room_closed" || len(c.Units) != 1 || !c.Units[0].Ephemeral || c.Units[0].Channels[0] != "call:"+room {
		t.Fatalf("close plan = %+v", c)
	}
}

func TestParseChannelRejectsUnknownKindsAndBadIds(t *testing.T) {
	for _, bad := range []string{"user", "user:", "user:123", "group:" + alice, "USER:" + alice, "user:" + strings.ToUpper(alice)} {
		if _, _, err := ParseChannel(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if k, id, err := ParseChannel("conversation:" + conv); err != nil || k != Conversation || id != conv {
		t.Fatalf("valid channel refused: %v", err)
	}
}
