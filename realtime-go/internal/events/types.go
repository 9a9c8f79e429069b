package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Event types this service routes.
const (
	MessageSent         = "messaging.message.sent"
	MessageEdited       = "messaging.message.edited"
	MessageDeleted      = "messaging.message.deleted"
	MessageRead         = "messaging.message.read"
	ConversationCreated = "messaging.conversation.created"
	ConversationUpdated = "messaging.conversation.updated"
	NotificationCreated = "messaging.notification.created"
	NotificationUpdated = "messaging.notification.updated"
	NotificationRead    = "messaging.notification.read"
	CallRoomCreated     = "messaging.call.room_created"
	CallTokenIssued     = "messaging.call.token_issued"
	CallRoomClosed      = "messaging.call.room_closed"
	CommentCreated      = "content.comment.created"
	CommentUpdated      = "content.comment.updated"
	CommentDeleted      = "content.comment.deleted"
	ReactionAdded       = "content.reaction.added"
	ReactionRemoved     = "content.reaction.removed"
)

// Known is the registry of the types above (topic, key field, schema at v1), as
// contracts/schemas/topics.json publishes them; a test keeps the two in agreement.
var Known = Registry{}

func init() {
	add := func(topic, key string, types ...string) {
		for _, t := range types {
			Known[t] = TypeInfo{Topic: topic, KeyField: key, SchemaID: SchemaID(t, 1)}
		}
	}
	add("messaging.message.v1", "conversation_id", MessageSent, MessageEdited, MessageDeleted, MessageRead)
	add("messaging.conversation.v1", "conversation_id", ConversationCreated, ConversationUpdated)
	add("messaging.notification.v1", "user_id", NotificationCreated, NotificationUpdated, NotificationRead)
	add("messaging.call.v1", "room_id", CallRoomCreated, CallTokenIssued, CallRoomClosed)
	add("content.comment.v1", "post_id", CommentCreated, CommentUpdated, CommentDeleted)
	add("content.reaction.v1", "target_id", ReactionAdded, ReactionRemoved)
}

// Attachment is a media reference carried by a message.
type Attachment struct {
	MediaID     string `json:"media_id"`
	ContentType string `json:"content_type"`
	URL         string `json:"url"`
}

// Message is messaging.message.sent / edited.
type Message struct {
	MessageID      string       `json:"message_id"`
	ConversationID string       `json:"conversation_id"`
	SenderID       string       `json:"sender_id"`
	ParticipantIDs []string     `json:"participant_ids"`
	Text           *string      `json:"text"`
	ReplyToID      *string      `json:"reply_to_id"`
	Attachments    []Attachment `json:"attachments"`
	CreatedAt      string       `json:"created_at"`
	EditedAt       *string      `json:"edited_at"`
}

// MessageRemoved is messaging.message.deleted.
type MessageRemoved struct {
	MessageID      string   `json:"message_id"`
	ConversationID string   `json:"conversation_id"`
	SenderID       string   `json:"sender_id"`
	ParticipantIDs []string `json:"participant_ids"`
	DeletedAt      string   `json:"deleted_at"`
}

// MessageReceipt is messaging.message.read.
type MessageReceipt struct {
	ConversationID    string   `json:"conversation_id"`
	UserID            string   `json:"user_id"`
	ParticipantIDs    []string `json:"participant_ids"`
	LastReadMessageID string   `json:"last_read_message_id"`
	At                string   `json:"at"`
}

// Conversation is messaging.conversation.created / updated.
type Conversation struct {
	ConversationID string   `json:"conversation_id"`
	Kind           string   `json:"kind"`
	Title          *string  `json:"title"`
	ParticipantIDs []string `json:"participant_ids"`
	AdminIDs       []string `json:"admin_ids"`
	CreatedAt      string   `json:"created_at"`
	UpdatedAt      string   `json:"updated_at"`
}

// Notification is messaging.notification.created / updated.
type Notification struct {
	NotificationID string   `json:"notification_id"`
	UserID         string   `json:"user_id"`
	Type           string   `json:"type"`
	ActorIDs       []string `json:"actor_ids"`
	ActorCount     *int     `json:"actor_count"`
	SubjectType    *string  `json:"subject_type"`
	SubjectID      *string  `json:"subject_id"`
	Summary        *string  `json:"summary"`
	CreatedAt      string   `json:"created_at"`
	UpdatedAt      string   `json:"updated_at"`
	Read           *bool    `json:"read"`
}

// NotificationsRead is messaging.notification.read.
type NotificationsRead struct {
	UserID          string   `json:"user_id"`
	NotificationIDs []string `json:"notification_ids"`
	At              string   `json:"at"`
}

// CallRoom is messaging.call.room_created.
type CallRoom struct {
	RoomID    string  `json:"room_id"`
	OwnerID   string  `json:"owner_id"`
	Title     *string `json:"title"`
	CreatedAt string  `json:"created_at"`
	ExpiresAt string  `json:"expires_at"`
}

// CallToken is messaging.call.token_issued.
type CallToken struct {
	RoomID      string `json:"room_id"`
	UserID      string `json:"user_id"`
	TokenSHA256 string `json:"token_sha256"`
	ExpiresAt   string `json:"expires_at"`
}

// CallClosed is messaging.call.room_closed.
type CallClosed struct {
	RoomID   string `json:"room_id"`
	ClosedAt string `json:"closed_at"`
	Reason   string `json:"reason"`
}

// Comment is content.comment.created / updated.
type Comment struct {
	CommentID    string   `json:"comment_id"`
	PostID       string   `json:"post_id"`
	PostAuthorID string   `json:"post_author_id"`
	AuthorID     string   `json:"author_id"`
	ParentID     *string  `json:"parent_id"`
	Text         *string  `json:"text"`
	Mentions     []string `json:"mentions"`
	CreatedAt    string   `json:"created_at"`
	UpdatedAt    string   `json:"updated_at"`
	CommentCount *int     `json:"comment_count"`
}

// CommentRemoved is content.comment.deleted.
type CommentRemoved struct {
	CommentID    string `json:"comment_id"`
	PostID       string `json:"post_id"`
	PostAuthorID string `json:"post_author_id"`
	AuthorID     string `json:"author_id"`
	DeletedAt    string `json:"deleted_at"`
	CommentCount *int   `json:"comment_count"`
}

// Reaction is content.reaction.added / removed.
type Reaction struct {
	TargetType     string         `json:"target_type"`
	TargetID       string         `json:"target_id"`
	PostID         string         `json:"post_id"`
	TargetAuthorID string         `json:"target_author_id"`
	UserID         string         `json:"user_id"`
	Kind           string         `json:"kind"`
	At             string         `json:"at"`
	Counts         map[string]int `json:"counts"`
}

// check collects the first validation problem.
type check struct{ err error }

func (c *check) fail(format string, args ...any) {
	if c.err == nil {
		c.err = invalid(format, args...)
	}
}
func (c *check) uuid(name, v string) {
	if !uuidRe.MatchString(v) {
		c.fail("%s must be a lowercase UUID", name)
	}
}
func (c *check) optUUID(name string, v *string) {
	if v != nil {
		c.uuid(name, *v)
	}
}
func (c *check) uuids(name string, v []string, required bool) {
	if v == nil && required {
		c.fail("%s is required", name)
	}
	for _, id := range v {
		c.uuid(name, id)
	}
}
func (c *check) time(name, v string) {
	if !timeRe.MatchString(v) {
		c.fail("%s must be an RFC 3339 time", name)
		return
	}
	if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
		c.fail("%s must be an RFC 3339 time", name)
	}
}
func (c *check) optTime(name string, v *string) {
	if v != nil {
		c.time(name, *v)
	}
}
func (c *check) members(name string, v []string) {
	c.uuids(name, v, true)
	if v != nil && len(v) == 0 {
		c.fail("%s must not be empty", name)
	}
	seen := make(map[string]bool, len(v))
	for _, id := range v {
		if seen[id] {
			c.fail("%s must not repeat an id", name)
		}
		seen[id] = true
	}
}
func (c *check) count(name string, v *int) {
	if v == nil {
		c.fail("%s is required", name)
	} else if *v < 0 {
		c.fail("%s must not be negative", name)
	}
}
func (c *check) oneOf(name, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	c.fail("%s must be one of %v", name, allowed)
}
func (c *check) present(name string, ok bool) {
	if !ok {
		c.fail("%s is required", name)
	}
}

func (m *Message) validate(c *check) {
	c.uuid("message_id", m.MessageID)
	c.uuid("conversation_id", m.ConversationID)
	c.uuid("sender_id", m.SenderID)
	c.members("participant_ids", m.ParticipantIDs)
	c.present("text", m.Text != nil)
	c.optUUID("reply_to_id", m.ReplyToID)
	c.present("attachments", m.Attachments != nil)
	c.time("created_at", m.CreatedAt)
	c.optTime("edited_at", m.EditedAt)
}
func (m *MessageRemoved) validate(c *check) {
	c.uuid("message_id", m.MessageID)
	c.uuid("conversation_id", m.ConversationID)
	c.uuid("sender_id", m.SenderID)
	c.members("participant_ids", m.ParticipantIDs)
	c.time("deleted_at", m.DeletedAt)
}
func (m *MessageReceipt) validate(c *check) {
	c.uuid("conversation_id", m.ConversationID)
	c.uuid("user_id", m.UserID)
	c.members("participant_ids", m.ParticipantIDs)
	c.uuid("last_read_message_id", m.LastReadMessageID)
	c.time("at", m.At)
}
func (m *Conversation) validate(c *check) {
	c.uuid("conversation_id", m.ConversationID)
	c.oneOf("kind", m.Kind, "direct", "group")
	c.members("participant_ids", m.ParticipantIDs)
	c.uuids("admin_ids", m.AdminIDs, true)
	c.time("created_at", m.CreatedAt)
	c.time("updated_at", m.UpdatedAt)
}
func (m *Notification) validate(c *check) {
	c.uuid("notification_id", m.NotificationID)
	c.uuid("user_id", m.UserID)
	c.oneOf("type", m.Type, "follow", "comment", "reply", "reaction", "mention", "message", "moderation")
	c.uuids("actor_ids", m.ActorIDs, true)
	c.count("actor_count", m.ActorCount)
	c.present("summary", m.Summary != nil)
	c.time("created_at", m.CreatedAt)
	c.time("updated_at", m.UpdatedAt)
	c.present("read", m.Read != nil)
}
func (m *NotificationsRead) validate(c *check) {
	c.uuid("user_id", m.UserID)
	c.uuids("notification_ids", m.NotificationIDs, true)
	c.time("at", m.At)
}
func (m *CallRoom) validate(c *check) {
	c.uuid("room_id", m.RoomID)
	c.uuid("owner_id", m.OwnerID)
	c.time("created_at", m.CreatedAt)
	c.time("expires_at", m.ExpiresAt)
}
func (m *CallToken) validate(c *check) {
	c.uuid("room_id", m.RoomID)
	c.uuid("user_id", m.UserID)
	if len(m.TokenSHA256) != 64 || !isLowerHex(m.TokenSHA256) {
		c.fail("token_sha256 must be 64 lowercase hex digits")
	}
	c.time("expires_at", m.ExpiresAt)
}
func (m *CallClosed) validate(c *check) {
	c.uuid("room_id", m.RoomID)
	c.time("closed_at", m.ClosedAt)
	c.oneOf("reason", m.Reason, "closed", "expired")
}
func (m *Comment) validate(c *check) {
	c.uuid("comment_id", m.CommentID)
	c.uuid("post_id", m.PostID)
	c.uuid("post_author_id", m.PostAuthorID)
	c.uuid("author_id", m.AuthorID)
	c.optUUID("parent_id", m.ParentID)
	c.present("text", m.Text != nil && *m.Text != "")
	c.uuids("mentions", m.Mentions, true)
	c.time("created_at", m.CreatedAt)
	c.time("updated_at", m.UpdatedAt)
	c.count("comment_count", m.CommentCount)
}
func (m *CommentRemoved) validate(c *check) {
	c.uuid("comment_id", m.CommentID)
	c.uuid("post_id", m.PostID)
	c.uuid("post_author_id", m.PostAuthorID)
	c.uuid("author_id", m.AuthorID)
	c.time("deleted_at", m.DeletedAt)
	c.count("comment_count", m.CommentCount)
}
func (m *Reaction) validate(c *check) {
	c.oneOf("target_type", m.TargetType, "post", "comment")
	c.uuid("target_id", m.TargetID)
	c.uuid("post_id", m.PostID)
	c.uuid("target_author_id", m.TargetAuthorID)
	c.uuid("user_id", m.UserID)
	c.oneOf("kind", m.Kind, "like", "love", "laugh", "wow", "sad", "angry")
	c.time("at", m.At)
	c.present("counts", m.Counts != nil)
	for k, n := range m.Counts {
		if n < 0 {
			c.fail("counts.%s must not be negative", k)
		}
	}
}

func isLowerHex(s string) bool {
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

type validator interface{ validate(*check) }

func newData(eventType string) validator {
	switch eventType {
	case MessageSent, MessageEdited:
		return &Message{}
	case MessageDeleted:
		return &MessageRemoved{}
	case MessageRead:
		return &MessageReceipt{}
	case ConversationCreated, ConversationUpdated:
		return &Conversation{}
	case NotificationCreated, NotificationUpdated:
		return &Notification{}
	case NotificationRead:
		return &NotificationsRead{}
	case CallRoomCreated:
		return &CallRoom{}
	case CallTokenIssued:
		return &CallToken{}
	case CallRoomClosed:
		return &CallClosed{}
	case CommentCreated, CommentUpdated:
		return &Comment{}
	case CommentDeleted:
		return &CommentRemoved{}
	case ReactionAdded, ReactionRemoved:
		return &Reaction{}
	}
	return nil
}

// Event is a checked record with its typed data (one of the pointer types above).
type Event struct {
	Envelope
	Data any
	Raw  json.RawMessage
}

// Decode checks the envelope against Known and decodes the data into its typed
// struct, enforcing required fields, id and time formats and enums. Errors wrap
// ErrInvalid; an event type this service does not route is ErrInvalid too.
func Decode(rec Record) (Event, error) {
	return DecodeWith(Known, rec)
}

// DecodeWith is Decode with another registry (tests use the contracts' own).
func DecodeWith(reg Registry, rec Record) (Event, error) {
	env, err := CheckEnvelope(reg, rec)
	if err != nil {
		return Event{Envelope: env}, err
	}
	data, err := DecodeData(env.Type, rec.Value)
	if err != nil {
		return Event{Envelope: env}, err
	}
	return Event{Envelope: env, Data: data, Raw: json.RawMessage(rec.Value)}, nil
}

// DecodeData decodes the data of a routed event type.
func DecodeData(eventType string, value []byte) (any, error) {
	data := newData(eventType)
	if data == nil {
		return nil, invalid("event type %s is not delivered by this service", eventType)
	}
	dec := json.NewDecoder(bytes.NewReader(value))
	if err := dec.Decode(data); err != nil {
		return nil, invalid("data of %s: %v", eventType, err)
	}
	var c check
	data.validate(&c)
	if m, ok := data.(*Message); ok && eventType == MessageEdited && m.EditedAt == nil {
		c.fail("edited_at is required on %s", MessageEdited)
	}
	if c.err != nil {
		return nil, fmt.Errorf("data of %s: %w", eventType, c.err)
	}
	return data, nil
}
