// Package store keeps the realtime state shared by every node in Redis: the replay
// history of each channel, known conversation members, presence, and call rooms
// with their single-use join tokens. Multi-key operations run as Lua scripts, so
// each is atomic; the scripts expect a single Redis (not Redis Cluster).
//
// Keys:
//
//	realtime:seq                      last sequence number handed out (all channels)
//	realtime:evt:<ce_id>              sequence numbers given to an event's units
//	realtime:hist:<channel>           sorted set: score seq, member "<seq>|<acl>|<body>"
//	realtime:conv:<id>, ...:v         members of a conversation and their version
//	presence:user:<id>                hash node -> expiry (ms) while the user has a socket
//	presence:last_seen:<id>           unix ms of the user's last activity
//	realtime:call:<room>              hash owner, expires_at (ms), closed
//	realtime:call:<room>:members      users who joined the room
//	realtime:calltok:<room>:<sha256>  hash user, expires_at (ms), used
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"platform/realtime/internal/route"
)

// Store is the Redis-backed shared state.
type Store struct {
	R               *redis.Client
	Node            string
	HistoryWindow   time.Duration
	HistoryMaxLen   int
	PresenceTTL     time.Duration
	LastSeenTTL     time.Duration
	ConversationTTL time.Duration
}

const (
	histPrefix = "realtime:hist:"
	seqKey     = "realtime:seq"
)

// Sequence numbers are the Redis clock in microseconds, or one more than the last
// one when several arrive within a microsecond: monotonic even if realtime:seq is
// lost, and near a wall-clock time, so history can be trimmed by age.
var appendScript = redis.NewScript(`
local done = redis.call('GET', KEYS[1])
if done then return {0, done} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local i = 10
local nm = tonumber(ARGV[9])
local members = {}
for k = 1, nm do members[k] = ARGV[i]; i = i + 1 end
if ARGV[6] ~= '' then
  local vkey = ARGV[6] .. ':v'
  local cur = tonumber(redis.call('GET', vkey) or '0')
  if tonumber(ARGV[7]) >= cur then
    redis.call('DEL', ARGV[6])
    if nm > 0 then redis.call('SADD', ARGV[6], unpack(members)) end
    redis.call('SET', vkey, ARGV[7], 'EX', ARGV[8])
    redis.call('EXPIRE', ARGV[6], ARGV[8])
  end
end
local nu = tonumber(ARGV[i]); i = i + 1
local seqs = {}
local minScore = string.format('%.0f', now - tonumber(ARGV[2]))
for u = 1, nu do
  local acl, body, nch = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  i = i + 3
  local last = tonumber(redis.call('GET', KEYS[2]) or '0')
  local seq = now
  if last >= seq then seq = last + 1 end
  local s = string.format('%.0f', seq)
  redis.call('SET', KEYS[2], s)
  local member = s .. '|' .. acl .. '|' .. body
  for c = 1, nch do
    local key = ARGV[5] .. ARGV[i]
    i = i + 1
    redis.call('ZADD', key, s, member)
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. minScore)
    redis.call('ZREMRANGEBYRANK', key, 0, -(tonumber(ARGV[3]) + 1))
    redis.call('EXPIRE', key, ARGV[4])
  end
  seqs[u] = s
end
local out = table.concat(seqs, ',')
redis.call('SET', KEYS[1], out, 'EX', ARGV[1])
return {1, out}
`)

// Appended is the outcome of Append for one event.
type Appended struct {
	Seqs  []int64 // one per appended unit, in order
	First bool    // this call stored the event (another node had not yet)
}

// AppendArgs builds the script call for one event: its non-ephemeral units and the
// members update. Exposed so a batch can be pipelined.
func (s *Store) appendArgs(eventID string, units []route.Unit, m *route.Members) ([]string, []any) {
	keys := []string{"realtime:evt:" + eventID, seqKey}
	markerTTL := int64((2*s.HistoryWindow + time.Hour).Seconds())
	args := []any{
		markerTTL, s.HistoryWindow.Microseconds(), s.HistoryMaxLen,
		int64(s.HistoryWindow.Seconds()) + 60, histPrefix,
	}
	if m != nil {
		args = append(args, "realtime:conv:"+m.ConversationID, m.Version.UnixMicro(), int64(s.ConversationTTL.Seconds()), len(m.UserIDs))
		for _, u := range m.UserIDs {
			args = append(args, u)
		}
	} else {
		args = append(args, "", 0, 0, 0)
	}
	args = append(args, len(units))
	for _, u := range units {
		args = append(args, strings.Join(u.ACL, ","), string(u.Body), len(u.Channels))
		for _, c := range u.Channels {
			args = append(args, c)
		}
	}
	return keys, args
}

func parseAppended(v any) (Appended, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) != 2 {
		return Appended{}, fmt.Errorf("append: unexpected reply %v", v)
	}
	first, _ := arr[0].(int64)
	list, _ := arr[1].(string)
	out := Appended{First: first == 1}
	if list == "" {
		return out, nil
	}
	for _, p := range strings.Split(list, ",") {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return Appended{}, fmt.Errorf("append: bad sequence %q", p)
		}
		out.Seqs = append(out.Seqs, n)
	}
	return out, nil
}

// AppendItem is one event of a batch.
type AppendItem struct {
	EventID string
	Units   []route.Unit // non-ephemeral units only
	Members *route.Members
}

// AppendBatch stores each event's units in the history of their channels and gives
// each unit its sequence number, idempotently by event id: a second call for the
// same event (another node, or a re-read record) gets the same numbers back and
// changes nothing. The batch is one pipelined round trip.
func (s *Store) AppendBatch(ctx context.Context, items []AppendItem) ([]Appended, error) {
	if len(items) == 0 {
		return nil, nil
	}
	var cmds []*redis.Cmd
	for attempt := 0; ; attempt++ {
		pipe := s.R.Pipeline()
		cmds = make([]*redis.Cmd, len(items))
		for i, it := range items {
			keys, args := s.appendArgs(it.EventID, it.Units, it.Members)
			cmds[i] = appendScript.EvalSha(ctx, pipe, keys, args...)
		}
		_, err := pipe.Exec(ctx)
		if err != nil && attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
			if err := appendScript.Load(ctx, s.R).Err(); err != nil {
				return nil, fmt.Errorf("load append script: %w", err)
			}
			continue
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("append batch: %w", err)
		}
		break
	}
	out := make([]Appended, len(items))
	for i, c := range cmds {
		a, err := parseAppended(c.Val())
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// Entry is one history item.
type Entry struct {
	Seq  int64
	ACL  []string // nil: any subscriber
	Body []byte
}

// Allows reports whether user may receive the entry.
func (e Entry) Allows(user string) bool {
	if e.ACL == nil {
		return true
	}
	for _, u := range e.ACL {
		if u == user {
			return true
		}
	}
	return false
}

func parseEntry(member string) (Entry, bool) {
	seqS, rest, ok1 := strings.Cut(member, "|")
	acl, body, ok2 := strings.Cut(rest, "|")
	seq, err := strconv.ParseInt(seqS, 10, 64)
	if !ok1 || !ok2 || err != nil {
		return Entry{}, false
	}
	e := Entry{Seq: seq, Body: []byte(body)}
	if acl != "" {
		e.ACL = strings.Split(acl, ",")
	}
	return e, true
}

// History returns the entries of channel after since (oldest first) and whether
// they are everything since then (false when the window or length cap already
// dropped some).
func (s *Store) History(ctx context.Context, channel string, since int64) ([]Entry, bool, error) {
	key := histPrefix + channel
	pipe := s.R.Pipeline()
	rng := pipe.ZRangeByScore(ctx, key, &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(since, 10), Max: "+inf", Count: int64(s.HistoryMaxLen),
	})
	oldest := pipe.ZRangeWithScores(ctx, key, 0, 0)
	card := pipe.ZCard(ctx, key)
	tm := pipe.Time(ctx)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, false, fmt.Errorf("history %s: %w", channel, err)
	}
	var out []Entry
	for _, m := range rng.Val() {
		if e, ok := parseEntry(m); ok {
			out = append(out, e)
		}
	}
	now := tm.Val().UnixMicro()
	complete := since >= now-s.HistoryWindow.Microseconds()
	if card.Val() >= int64(s.HistoryMaxLen) && len(oldest.Val()) == 1 && int64(oldest.Val()[0].Score) > since {
		complete = false
	}
	return out, complete, nil
}

// IsMember reports whether user is a known participant of a conversation.
func (s *Store) IsMember(ctx context.Context, conversationID, user string) (bool, error) {
	ok, err := s.R.SIsMember(ctx, "realtime:conv:"+conversationID, user).Result()
	if err != nil {
		return false, fmt.Errorf("conversation members: %w", err)
	}
	return ok, nil
}

// Members lists the known participants of a conversation.
func (s *Store) Members(ctx context.Context, conversationID string) ([]string, error) {
	m, err := s.R.SMembers(ctx, "realtime:conv:"+conversationID).Result()
	if err != nil {
		return nil, fmt.Errorf("conversation members: %w", err)
	}
	return m, nil
}

// PresenceKey is the key that exists while user has a socket on any node.
func PresenceKey(user string) string { return "presence:user:" + user }

func lastSeenKey(user string) string { return "presence:last_seen:" + user }

// Online marks users as connected to this node and refreshes the presence TTL
// (called on a user's first socket and then periodically, every PresenceTTL/3).
func (s *Store) Online(ctx context.Context, users []string) error {
	if len(users) == 0 {
		return nil
	}
	now := time.Now()
	expiry := now.Add(s.PresenceTTL).UnixMilli()
	pipe := s.R.Pipeline()
	for _, u := range users {
		pipe.HSet(ctx, PresenceKey(u), s.Node, expiry)
		pipe.PExpire(ctx, PresenceKey(u), s.PresenceTTL)
		pipe.Set(ctx, lastSeenKey(u), now.UnixMilli(), s.LastSeenTTL)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("presence refresh: %w", err)
	}
	return nil
}

var offlineScript = redis.NewScript(`
redis.call('HDEL', KEYS[1], ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) < tonumber(ARGV[2]) then redis.call('HDEL', KEYS[1], all[i]) end
end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
return 1
`)

// Offline records that user's last socket on this node closed: the presence key
// goes away unless another node still holds a live socket of the user.
func (s *Store) Offline(ctx context.Context, user string) error {
	err := offlineScript.Run(ctx, s.R, []string{PresenceKey(user), lastSeenKey(user)},
		s.Node, time.Now().UnixMilli(), int64(s.LastSeenTTL.Seconds())).Err()
	if err != nil {
		return fmt.Errorf("presence offline: %w", err)
	}
	return nil
}

// Presence is one user's status.
type Presence struct {
	UserID   string `json:"user_id"`
	Online   bool   `json:"online"`
	LastSeen *int64 `json:"last_seen_ms"`
}

// QueryPresence returns the status of users.
func (s *Store) QueryPresence(ctx context.Context, users []string) ([]Presence, error) {
	pipe := s.R.Pipeline()
	exists := make([]*redis.IntCmd, len(users))
	seen := make([]*redis.StringCmd, len(users))
	for i, u := range users {
		exists[i] = pipe.Exists(ctx, PresenceKey(u))
		seen[i] = pipe.Get(ctx, lastSeenKey(u))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("presence query: %w", err)
	}
	out := make([]Presence, len(users))
	for i, u := range users {
		out[i] = Presence{UserID: u, Online: exists[i].Val() == 1}
		if n, err := seen[i].Int64(); err == nil {
			out[i].LastSeen = &n
		}
	}
	return out, nil
}

func roomKey(room string) string        { return "realtime:call:" + room }
func roomMembersKey(room string) string { return "realtime:call:" + room + ":members" }
func tokenKey(room, sha string) string  { return "realtime:calltok:" + room + ":" + sha }

// ApplyCall records a call-room change; applying the same change twice is harmless.
func (s *Store) ApplyCall(ctx context.Context, op route.CallOp) error {
	pipe := s.R.TxPipeline()
	// Keys outlive the room by a day, so a late join is told "expired", not "unknown".
	keep := op.ExpiresAt.Add(24 * time.Hour)
	switch op.Kind {
	case "room_created":
		pipe.HSetNX(ctx, roomKey(op.RoomID), "owner", op.OwnerID)
		pipe.HSetNX(ctx, roomKey(op.RoomID), "expires_at", op.ExpiresAt.UnixMilli())
		pipe.PExpireAt(ctx, roomKey(op.RoomID), keep)
	case "token_issued":
		k := tokenKey(op.RoomID, op.TokenSHA256)
		pipe.HSetNX(ctx, k, "user", op.UserID)
		pipe.HSetNX(ctx, k, "expires_at", op.ExpiresAt.UnixMilli())
		pipe.PExpireAt(ctx, k, keep)
	case "room_closed":
		pipe.HSet(ctx, roomKey(op.RoomID), "closed", 1)
		pipe.ExpireNX(ctx, roomKey(op.RoomID), 24*time.Hour)
		pipe.Expire(ctx, roomMembersKey(op.RoomID), time.Hour)
	default:
		return fmt.Errorf("unknown call change %q", op.Kind)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("call state %s: %w", op.Kind, err)
	}
	return nil
}

// Outcomes of JoinCall and RoomOpen.
const (
	JoinOK           = "ok"
	JoinUnknownRoom  = "unknown_room"
	JoinClosed       = "room_closed"
	JoinExpired      = "room_expired"
	JoinInvalidToken = "invalid_token"
	JoinTokenUsed    = "token_used"
	JoinTokenExpired = "token_expired"
	JoinForbidden    = "forbidden"
	JoinNeedsToken   = "token_required"
)

var joinScript = redis.NewScript(`
local room = redis.call('HMGET', KEYS[1], 'owner', 'expires_at', 'closed')
if room[3] then return 'room_closed' end
if not room[2] then return 'unknown_room' end
local now = tonumber(ARGV[2])
if tonumber(room[2]) <= now then return 'room_expired' end
if ARGV[3] == '' then
  if room[1] == ARGV[1] or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 'ok' end
  return 'token_required'
end
local tok = redis.call('HMGET', KEYS[3], 'user', 'expires_at', 'used')
if not tok[1] then return 'invalid_token' end
if tok[1] ~= ARGV[1] then return 'forbidden' end
if tok[3] then return 'token_used' end
if tonumber(tok[2]) <= now then return 'token_expired' end
redis.call('HSET', KEYS[3], 'used', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIREAT', KEYS[2], tonumber(room[2]) + 86400000)
return 'ok'
`)

// JoinCall admits user to a room. With a token (its sha256 hex), the token must have
// been issued to this user, be unexpired and unused, and is spent atomically: a
// token works once. Without one, only the owner or a user who already joined may
// (re)join. Any closed or expired room refuses. Returns one of the Join* outcomes.
func (s *Store) JoinCall(ctx context.Context, room, user, tokenSHA string, now time.Time) (string, error) {
	keys := []string{roomKey(room), roomMembersKey(room), tokenKey(room, tokenSHA)}
	res, err := joinScript.Run(ctx, s.R, keys, user, now.UnixMilli(), tokenSHA).Text()
	if err != nil {
		return "", fmt.Errorf("call join: %w", err)
	}
	return res, nil
}

// RoomOpen reports whether the room exists, is not closed and has not expired
// (JoinOK or the refusal).
func (s *Store) RoomOpen(ctx context.Context, room string, now time.Time) (string, error) {
	v, err := s.R.HMGet(ctx, roomKey(room), "expires_at", "closed").Result()
	if err != nil {
		return "", fmt.Errorf("call room: %w", err)
	}
	if v[1] != nil {
		return JoinClosed, nil
	}
	exp, ok := v[0].(string)
	if !ok {
		return JoinUnknownRoom, nil
	}
	ms, _ := strconv.ParseInt(exp, 10, 64)
	if ms <= now.UnixMilli() {
		return JoinExpired, nil
	}
	return JoinOK, nil
}

// CallMembers lists users who joined a room.
func (s *Store) CallMembers(ctx context.Context, room string) ([]string, error) {
	m, err := s.R.SMembers(ctx, roomMembersKey(room)).Result()
	if err != nil {
		return nil, fmt.Errorf("call members: %w", err)
	}
	return m, nil
}

// Ping checks Redis.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.R.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}
