package store

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"platform/realtime/internal/route"
)

func newStore(t *testing.T, node string) *Store {
	t.Helper()
	if os.Getenv("REALTIME_IT") == "" {
		t.Skip("REALTIME_IT is not set")
	}
	url := os.Getenv("REALTIME_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	r := redis.NewClient(opts)
	t.Cleanup(func() { r.Close() })
	return &Store{R: r, Node: node, HistoryWindow: time.Minute, HistoryMaxLen: 3, PresenceTTL: 5 * time.Second,
		LastSeenTTL: time.Hour, ConversationTTL: time.Hour}
}

func TestConcurrentAppendsOfOneEventAgreeOnItsSequenceNumbers(t *testing.T) {
	s := newStore(t, "a")
	ch1, ch2 := "user:"+uuid.NewString(), "conversation:"+uuid.NewString()
	item := AppendItem{EventID: uuid.NewString(), Units: []route.Unit{
		{Channels: []string{ch1, ch2}, ACL: []string{"u1"}, Body: []byte(`{"event_type":"x"}`)},
		{Channels: []string{ch1}, Body: []byte(`{"event_type":"y"}`)},
	}}
	var wg sync.WaitGroup
	results := make([]Appended, 8)
	for i := range results {
		wg.Go(func() {
			out, err := s.AppendBatch(context.Background(), []AppendItem{item})
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = out[0]
		})
	}
	wg.Wait()
	firsts := 0
	for _, r := range results {
		if r.First {
			firsts++
		}
		if len(r.Seqs) != 2 || r.Seqs[0] != results[0].Seqs[0] || r.Seqs[1] != results[0].Seqs[1] || r.Seqs[0] >= r.Seqs[1] {
			t.Fatalf("results disagree: %+v", results)
		}
	}
	if firsts != 1 {
		t.Fatalf("%d appends claimed to be first", firsts)
	}
	entries, complete, err := s.History(context.Background(), ch1, results[0].Seqs[0]-1)
	if err != nil || !complete || len(entries) != 2 || !entries[0].Allows("u1") || entries[0].Allows("u2") || !entries[1].Allows("u2") {
		t.Fatalf("history = %+v complete=%v err=%v", entries, complete, err)
	}
}

func TestHistoryIsCappedAndSaysWhenAGapWasLost(t *testing.T) {
	s := newStore(t, "a")
	ch := "post:" + uuid.NewString()
	var seqs []int64
	for range 5 {
		out, err := s.AppendBatch(context.Background(), []AppendItem{{EventID: uuid.NewString(), Units: []route.Unit{{Channels: []string{ch}, Body: []byte(`{}`)}}}})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, out[0].Seqs[0])
	}
	entries, complete, _ := s.History(context.Background(), ch, seqs[0])
	if len(entries) != 3 || complete {
		t.Fatalf("after the cap dropped one: %d entries complete=%v", len(entries), complete)
	}
	entries, complete, _ = s.History(context.Background(), ch, seqs[2])
	if len(entries) != 2 || !complete || entries[0].Seq != seqs[3] {
		t.Fatalf("within the window: %+v complete=%v", entries, complete)
	}
}

func TestJoinTokenWorksOnceForItsUserUntilTheRoomCloses(t *testing.T) {
	s := newStore(t, "a")
	ctx := context.Background()
	room, owner, guest, sha := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	exp := time.Now().Add(time.Hour)
	now := time.Now()
	if r, _ := s.JoinCall(ctx, room, guest, sha, now); r != JoinUnknownRoom {
		t.Fatalf("unknown room: %s", r)
	}
	_ = s.ApplyCall(ctx, route.CallOp{Kind: "room_created", RoomID: room, OwnerID: owner, ExpiresAt: exp})
	_ = s.ApplyCall(ctx, route.CallOp{Kind: "token_issued", RoomID: room, UserID: guest, TokenSHA256: sha, ExpiresAt: exp})
	_ = s.ApplyCall(ctx, route.CallOp{Kind: "token_issued", RoomID: room, UserID: guest, TokenSHA256: sha, ExpiresAt: exp}) // redelivered
	steps := []struct{ user, sha, want string }{
		{guest, "", JoinNeedsToken},
		{owner, sha, JoinForbidden},
		{guest, "other", JoinInvalidToken},
		{owner, "", JoinOK},
		{guest, sha, JoinOK},
		{guest, sha, JoinTokenUsed},
		{guest, "", JoinOK}, // a member may rejoin
	}
	for i, st := range steps {
		if r, err := s.JoinCall(ctx, room, st.user, st.sha, now); err != nil || r != st.want {
			t.Fatalf("step %d: %s (%v), want %s", i, r, err, st.want)
		}
	}
	if r, _ := s.JoinCall(ctx, room, guest, "", exp.Add(time.Second)); r != JoinExpired {
		t.Fatalf("after expiry: %s", r)
	}
	_ = s.ApplyCall(ctx, route.CallOp{Kind: "room_closed", RoomID: room})
	if r, _ := s.JoinCall(ctx, room, owner, "", now); r != JoinClosed {
		t.Fatalf("closed room: %s", r)
	}
	if r, _ := s.RoomOpen(ctx, room, now); r != JoinClosed {
		t.Fatalf("room open: %s", r)
	}
}

func TestParticipantsFollowTheNewestVersionOnly(t *testing.T) {
	s := newStore(t, "a")
	ctx := context.Background()
	conv := uuid.NewString()
	t0 := time.Now()
	put := func(v time.Time, ids ...string) {
		_, err := s.AppendBatch(ctx, []AppendItem{{EventID: uuid.NewString(), Members: &route.Members{ConversationID: conv, UserIDs: ids, Version: v}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	put(t0, "a", "b", "c")
	put(t0.Add(time.Second), "a", "b")
	put(t0.Add(-time.Second), "a", "b", "c", "d") // late, older event
	for user, want := range map[string]bool{"a": true, "b": true, "c": false, "d": false} {
		if ok, _ := s.IsMember(ctx, conv, user); ok != want {
			t.Errorf("%s member = %v", user, ok)
		}
	}
}
