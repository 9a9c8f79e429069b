// Package route decides, for each consumed event, which channels receive it, what
// each channel may see of it, and which state (conversation members, call rooms) it
// changes. It is pure: no I/O, so every rule is unit-tested.
//
// Channels:
//   - user:<id>          only that user.
//   - conversation:<id>  participants only: each delivery carries the event's own
//     participant_ids as its access list, so a member removed later stops receiving.
//   - post:<id>          any authenticated user; only public counters and ids flow
//     there (never text or user ids), because the event does not say who may read
//     the post. Full comment/reaction data goes to the post author's user channel.
//   - call:<room_id>     sockets that joined the room with a join token.
package route

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"platform/realtime/internal/events"
)

// Channel kinds.
const (
	User         = "user"
	Conversation = "conversation"
	Post         = "post"
	Call         = "call"
)

var idRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ParseChannel splits "<kind>:<uuid>" and checks both parts.
func ParseChannel(name string) (kind, id string, err error) {
	kind, id, ok := strings.Cut(name, ":")
	if !ok || !idRe.MatchString(id) {
		return "", "", fmt.Errorf("channel %q is not <kind>:<lowercase uuid>", name)
	}
	switch kind {
	case User, Conversation, Post, Call:
		return kind, id, nil
	}
	return "", "", fmt.Errorf("channel kind %q is unknown", kind)
}

// Name builds a channel name.
func Name(kind, id string) string { return kind + ":" + id }

// Unit is one view of an event delivered to a set of channels. Every unit gets its
// own sequence number, so a socket subscribed to several of its channels receives it
// once, while a redacted and a full view of the same event are distinct deliveries.
type Unit struct {
	Channels []string
	// ACL lists the users allowed to receive the unit; nil allows every subscriber
	// of the channel (user channels only ever have their owner subscribed).
	ACL []string
	// Body is the JSON object sent to clients under the frame's envelope fields:
	// {"event_type","event_id","time","data"}.
	Body []byte
	// Ephemeral units are delivered live only: no replay history, no sequence.
	Ephemeral bool
}

// Members replaces the known participants of a conversation (newest version wins).
type Members struct {
	ConversationID string
	UserIDs        []string
	Version        time.Time
}

// CallOp is a change of call-room state.
type CallOp struct {
	Kind        string // room_created | token_issued | room_closed
	RoomID      string
	OwnerID     string
	UserID      string
	TokenSHA256 string
	ExpiresAt   time.Time
}

// Plan is everything an event causes.
type Plan struct {
	Units   []Unit
	Members *Members
	Call    *CallOp
}

type body struct {
	EventType string `json:"event_type"`
	EventID   string `json:"event_id"`
	Time      string `json:"time"`
	Data      any    `json:"data"`
}

func encode(ev events.Event, data any) []byte {
	b, err := json.Marshal(body{ev.Type, ev.ID, ev.Time.UTC().Format(time.RFC3339Nano), data})
	if err != nil {
		panic(fmt.Sprintf("route: encoding %s: %v", ev.Type, err)) // every view is plain JSON data
	}
	return b
}

func userChannels(ids []string) []string {
	out := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, Name(User, id))
		}
	}
	return out
}

// conversationUnit goes to the conversation channel and every participant's own.
func conversationUnit(ev events.Event, conversationID string, participants []string) Unit {
	return Unit{
		Channels: append([]string{Name(Conversation, conversationID)}, userChannels(participants)...),
		ACL:      participants,
		Body:     encode(ev, ev.Raw),
	}
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s) // checked by events.Decode
	return t
}

// For plans one decoded event.
func For(ev events.Event) Plan {
	switch d := ev.Data.(type) {
	case *events.Message:
		return Plan{
			Units:   []Unit{conversationUnit(ev, d.ConversationID, d.ParticipantIDs)},
			Members: &Members{d.ConversationID, d.ParticipantIDs, ev.Time},
		}
	case *events.MessageRemoved:
		return Plan{
			Units:   []Unit{conversationUnit(ev, d.ConversationID, d.ParticipantIDs)},
			Members: &Members{d.ConversationID, d.ParticipantIDs, ev.Time},
		}
	case *events.MessageReceipt:
		return Plan{
			Units:   []Unit{conversationUnit(ev, d.ConversationID, d.ParticipantIDs)},
			Members: &Members{d.ConversationID, d.ParticipantIDs, ev.Time},
		}
	case *events.Conversation:
		return Plan{
			Units:   []Unit{conversationUnit(ev, d.ConversationID, d.ParticipantIDs)},
			Members: &Members{d.ConversationID, d.ParticipantIDs, ev.Time},
		}
	case *events.Notification:
		return Plan{Units: []Unit{{Channels: []string{Name(User, d.UserID)}, Body: encode(ev, ev.Raw)}}}
	case *events.NotificationsRead:
		return Plan{Units: []Unit{{Channels: []string{Name(User, d.UserID)}, Body: encode(ev, ev.Raw)}}}
	case *events.Comment:
		return commentPlan(ev, d.PostID, d.CommentID, d.PostAuthorID, d.AuthorID, d.ParentID, *d.CommentCount, d.UpdatedAt)
	case *events.CommentRemoved:
		return commentPlan(ev, d.PostID, d.CommentID, d.PostAuthorID, d.AuthorID, nil, *d.CommentCount, d.DeletedAt)
	case *events.Reaction:
		public := map[string]any{
			"post_id": d.PostID, "target_type": d.TargetType, "target_id": d.TargetID, "counts": d.Counts, "at": d.At,
		}
		plan := Plan{Units: []Unit{{Channels: []string{Name(Post, d.PostID)}, Body: encode(ev, public)}}}
		if ev.Type == events.ReactionAdded && d.UserID != d.TargetAuthorID {
			plan.Units = append(plan.Units, Unit{Channels: []string{Name(User, d.TargetAuthorID)}, Body: encode(ev, ev.Raw)})
		}
		return plan
	case *events.CallRoom:
		return Plan{Call: &CallOp{Kind: "room_created", RoomID: d.RoomID, OwnerID: d.OwnerID, ExpiresAt: parseTime(d.ExpiresAt)}}
	case *events.CallToken:
		return Plan{Call: &CallOp{
			Kind: "token_issued", RoomID: d.RoomID, UserID: d.UserID, TokenSHA256: d.TokenSHA256, ExpiresAt: parseTime(d.ExpiresAt),
		}}
	case *events.CallClosed:
		return Plan{
			Units: []Unit{{Channels: []string{Name(Call, d.RoomID)}, Body: encode(ev, ev.Raw), Ephemeral: true}},
			Call:  &CallOp{Kind: "room_closed", RoomID: d.RoomID},
		}
	}
	return Plan{}
}

func commentPlan(ev events.Event, postID, commentID, postAuthor, author string, parent *string, count int, at string) Plan {
	public := map[string]any{"post_id": postID, "comment_id": commentID, "comment_count": count, "at": at}
	if parent != nil {
		public["parent_id"] = *parent
	}
	plan := Plan{Units: []Unit{{Channels: []string{Name(Post, postID)}, Body: encode(ev, public)}}}
	if ev.Type == events.CommentCreated && author != postAuthor {
		plan.Units = append(plan.Units, Unit{Channels: []string{Name(User, postAuthor)}, Body: encode(ev, ev.Raw)})
	}
	return plan
}
