package events

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const contractsDir = "../../../contracts"

// contractsRegistry derives the registry from contracts/schemas, the way the
// Python registry does: one schema file per type and major version, the topic whose
// aggregates list the type's aggregate and whose name ends in that version.
func contractsRegistry(t *testing.T) Registry {
	t.Helper()
	var topics struct {
		Topics map[string]struct {
			Aggregates map[string]struct {
				Key string `json:"key"`
			} `json:"aggregates"`
		} `json:"topics"`
	}
	raw, err := os.ReadFile(filepath.Join(contractsDir, "schemas", "topics.json"))
	if err != nil {
		t.Fatalf("read topics.json: %v", err)
	}
	if err := json.Unmarshal(raw, &topics); err != nil {
		t.Fatalf("topics.json: %v", err)
	}
	nameRe := regexp.MustCompile(`^([a-z0-9-]+)\.([a-z0-9_-]+)\.v(\d+)\.json$`)
	reg := Registry{}
	files, _ := filepath.Glob(filepath.Join(contractsDir, "schemas", "*", "*.json"))
	for _, f := range files {
		m := nameRe.FindStringSubmatch(filepath.Base(f))
		if m == nil {
			continue
		}
		context := filepath.Base(filepath.Dir(f))
		aggregate := context + "." + m[1]
		eventType := aggregate + "." + m[2]
		var schema struct {
			ID string `json:"$id"`
		}
		b, _ := os.ReadFile(f)
		if err := json.Unmarshal(b, &schema); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for name, topic := range topics.Topics {
			if agg, ok := topic.Aggregates[aggregate]; ok && strings.HasSuffix(name, ".v"+m[3]) {
				reg[eventType] = TypeInfo{Topic: name, KeyField: agg.Key, SchemaID: schema.ID}
			}
		}
		if _, ok := reg[eventType]; !ok {
			t.Fatalf("%s: no topic carries %s v%s", f, aggregate, m[3])
		}
	}
	if len(reg) == 0 {
		t.Fatal("no schemas found under contracts/schemas")
	}
	return reg
}

func TestKnownTypesMatchThePublishedContracts(t *testing.T) {
	reg := contractsRegistry(t)
	for typ, info := range Known {
		got, ok := reg[typ]
		if !ok {
			t.Errorf("%s is routed but has no schema in contracts/", typ)
			continue
		}
		if got != info {
			t.Errorf("%s: built in %+v, contracts say %+v", typ, info, got)
		}
	}
	// Every type on a delivered topic is routed, so nothing a client should see is
	// silently ignored.
	delivered := map[string]bool{}
	for _, info := range Known {
		delivered[info.Topic] = true
	}
	for typ, info := range reg {
		if delivered[info.Topic] {
			if _, ok := Known[typ]; !ok {
				t.Errorf("%s is published on delivered topic %s but not routed", typ, info.Topic)
			}
		}
	}
}

type vector struct {
	Description string `json:"description"`
	Valid       bool   `json:"valid"`
	Event       struct {
		Topic   string            `json:"topic"`
		Key     string            `json:"key"`
		Headers map[string]string `json:"headers"`
		Data    json.RawMessage   `json:"data"`
	} `json:"event"`
}

var unenforced = regexp.MustCompile(`too_long|url_scheme`)

func envelopeCase(name string) bool {
	return strings.HasPrefix(name, "invalid_header_") || strings.HasPrefix(name, "invalid_key_") ||
		strings.HasPrefix(name, "invalid_wrong_topic")
}

func TestEveryContractVectorIsJudgedCorrectly(t *testing.T) {
	reg := contractsRegistry(t)
	files, err := filepath.Glob(filepath.Join(contractsDir, "vectors", "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors found: %v", err)
	}
	counts := map[string]int{}
	for _, f := range files {
		eventType := filepath.Base(filepath.Dir(f))
		name := filepath.Base(f)
		t.Run(eventType+"/"+strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var v vector
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatalf("vector file: %v", err)
			}
			rec := Record{Topic: v.Event.Topic, Key: v.Event.Key, Headers: v.Event.Headers, Value: v.Event.Data}
			_, envErr := CheckEnvelope(reg, rec)
			_, routed := Known[eventType]
			switch {
			case v.Valid:
				if envErr != nil {
					t.Fatalf("valid vector refused by the envelope check: %v (%s)", envErr, v.Description)
				}
				counts["valid"]++
				if routed {
					ev, err := Decode(rec)
					if err != nil {
						t.Fatalf("valid %s does not decode: %v (%s)", eventType, err, v.Description)
					}
					if ev.Data == nil || ev.ID != v.Event.Headers["ce_id"] {
						t.Fatalf("decoded event lost its data or id: %+v", ev)
					}
					counts["decoded"]++
				}
			case envelopeCase(name):
				if envErr == nil || !errors.Is(envErr, ErrInvalid) {
					t.Fatalf("envelope check accepted %s: %s", name, v.Description)
				}
				counts["envelope rejected"]++
			case routed && unenforced.MatchString(name):
				// Length limits and URL schemes are the producer's to enforce; routing
				// does not depend on them, so the decoder lets them through.
				counts["data not enforced"]++
			case routed:
				if _, err := Decode(rec); err == nil {
					t.Fatalf("invalid data accepted: %s", v.Description)
				}
				counts["data rejected"]++
			}
		})
	}
	t.Logf("vectors: %s", func() string {
		var parts []string
		for k, n := range counts {
			parts = append(parts, k+"="+strconv.Itoa(n))
		}
		return strings.Join(parts, " ")
	}())
	if counts["decoded"] == 0 || counts["envelope rejected"] == 0 {
		t.Fatalf("vectors did not exercise decoding and envelope rejection: %v", counts)
	}
}
