// Package events checks the CloudEvents envelope of Kafka records (binary mode, as
// contracts/schemas/envelope.json describes it) and decodes the data of the event
// types this service delivers into typed structs.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Record is a Kafka record as this package sees it.
type Record struct {
	Topic   string
	Key     string
	Headers map[string]string
	Value   []byte
}

// Envelope is a checked CloudEvents envelope.
type Envelope struct {
	ID          string
	Source      string
	Type        string
	Time        time.Time
	Subject     string
	DataSchema  string
	Topic       string
	Traceparent string
	Tracestate  string
}

// TypeInfo is what the registry knows of one event type.
type TypeInfo struct {
	Topic    string // the topic carrying it
	KeyField string // the data field equal to the record key and ce_subject
	SchemaID string // its ce_dataschema
}

// Registry maps an event type (ce_type) to where it is published.
type Registry map[string]TypeInfo

// ErrInvalid wraps every envelope or data problem.
var ErrInvalid = errors.New("invalid event")

var (
	uuidv7Re      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	uuidRe        = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	sourceRe      = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	typeRe        = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*(\.[a-z][a-z0-9_-]*)+$`)
	timeRe        = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$`)
	traceparentRe = regexp.MustCompile(`^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)
)

var requiredHeaders = []string{
	"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "ce_dataschema", "content-type",
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// CheckEnvelope applies every envelope rule of contracts/vectors/README.md: the
// required headers and their formats, a known ce_type whose ce_dataschema, topic and
// ce_source match the registry, and a record key equal to ce_subject and to the
// data's key field. Errors wrap ErrInvalid.
func CheckEnvelope(reg Registry, rec Record) (Envelope, error) {
	h := rec.Headers
	for _, name := range requiredHeaders {
		if _, ok := h[name]; !ok {
			return Envelope{}, invalid("header %s is missing", name)
		}
	}
	env := Envelope{
		ID: h["ce_id"], Source: h["ce_source"], Type: h["ce_type"], Subject: h["ce_subject"],
		DataSchema: h["ce_dataschema"], Topic: rec.Topic, Traceparent: h["traceparent"], Tracestate: h["tracestate"],
	}
	switch {
	case h["ce_specversion"] != "1.0":
		return env, invalid("ce_specversion must be 1.0")
	case !uuidv7Re.MatchString(env.ID):
		return env, invalid("ce_id must be a lowercase UUIDv7")
	case !sourceRe.MatchString(env.Source) || len(env.Source) > 64:
		return env, invalid("ce_source is malformed")
	case !typeRe.MatchString(env.Type) || len(env.Type) > 128:
		return env, invalid("ce_type is malformed")
	case strings.SplitN(env.Type, ".", 2)[0] != env.Source:
		return env, invalid("ce_source %q is not the first segment of ce_type %q", env.Source, env.Type)
	case !timeRe.MatchString(h["ce_time"]):
		return env, invalid("ce_time is not RFC 3339")
	case env.Subject == "" || len(env.Subject) > 128:
		return env, invalid("ce_subject must have 1 to 128 characters")
	case h["content-type"] != "application/json":
		return env, invalid("content-type must be application/json")
	case len(env.DataSchema) > 256:
		return env, invalid("ce_dataschema is too long")
	}
	if _, ok := h["traceparent"]; ok && !traceparentRe.MatchString(env.Traceparent) {
		return env, invalid("traceparent is malformed")
	}
	if len(env.Tracestate) > 512 {
		return env, invalid("tracestate is too long")
	}
	t, err := time.Parse(time.RFC3339Nano, h["ce_time"])
	if err != nil {
		return env, invalid("ce_time: %v", err)
	}
	env.Time = t
	info, ok := reg[env.Type]
	if !ok {
		return env, invalid("unknown event type %q", env.Type)
	}
	if env.DataSchema != info.SchemaID {
		return env, invalid("ce_dataschema %q is not the schema of %s", env.DataSchema, env.Type)
	}
	if rec.Topic != info.Topic {
		return env, invalid("%s does not belong on topic %s", env.Type, rec.Topic)
	}
	if rec.Key != env.Subject {
		return env, invalid("record key differs from ce_subject")
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(rec.Value, &data); err != nil || data == nil {
		return env, invalid("the value is not a JSON object")
	}
	var key string
	if err := json.Unmarshal(data[info.KeyField], &key); err != nil || key != env.Subject {
		return env, invalid("data.%s differs from ce_subject", info.KeyField)
	}
	return env, nil
}

// SchemaID is the $id of the schema of an event type at a major version.
func SchemaID(eventType string, major int) string {
	parts := strings.SplitN(eventType, ".", 2)
	return fmt.Sprintf("https://schemas.platform.example/%s/%s/v%d.json", parts[0], parts[1], major)
}
