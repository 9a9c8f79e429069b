// Package auth verifies the platform's RS256 access tokens against identity's JWKS.
//
// Only RS256 is accepted; a token needs a kid, a valid signature by a JWKS key, the
// configured iss and aud, exp, iat and a UUID sub. Keys are cached for TTL; a token
// naming an unknown kid triggers a refetch, at most once per MinRefetch, so garbage
// tokens cannot hammer identity. When a refetch fails, the keys already held keep
// working.
package auth

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrUnauthorized wraps every reason a token is refused.
var ErrUnauthorized = errors.New("unauthorized")

// ErrKeysUnavailable means no key was ever fetched; the token could not be judged.
var ErrKeysUnavailable = errors.New("token keys are unavailable")

// JWKS caches RSA verification keys by kid.
type JWKS struct {
	URL        string
	TTL        time.Duration
	MinRefetch time.Duration
	Client     *http.Client

	mu          sync.Mutex
	keys        map[string]*rsa.PublicKey
	fetchedAt   time.Time
	lastRefetch time.Time
	fetches     int
}

// NewJWKS builds a cache for url.
func NewJWKS(url string, ttl, minRefetch time.Duration) *JWKS {
	return &JWKS{URL: url, TTL: ttl, MinRefetch: minRefetch, Client: &http.Client{Timeout: 5 * time.Second}}
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// ParseJWKS returns the usable RS256 signature keys of a JWKS document.
func ParseJWKS(doc []byte) (map[string]*rsa.PublicKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys := make(map[string]*rsa.PublicKey)
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Kid == "" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			continue
		}
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if errN != nil || errE != nil || len(n) < 256 || len(e) == 0 || len(e) > 4 {
			continue
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		if exp < 3 {
			continue
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
	}
	return keys, nil
}

// Refresh fetches the document now and replaces the keys on success.
func (j *JWKS) Refresh(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.URL, nil)
	if err != nil {
		return fmt.Errorf("jwks request: %w", err)
	}
	resp, err := j.Client.Do(req)
	if err != nil {
		return fmt.Errorf("jwks fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jwks fetch: status %d", resp.StatusCode)
	}
	var raw json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&raw); err != nil {
		return fmt.Errorf("jwks body: %w", err)
	}
	keys, err := ParseJWKS(raw)
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.keys, j.fetchedAt = keys, time.Now()
	j.fetches++
	j.mu.Unlock()
	return nil
}

// Fetches counts successful fetches (tests).
func (j *JWKS) Fetches() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.fetches
}

// Ready reports whether keys are held, fetching them if they never were or are stale.
func (j *JWKS) Ready(ctx context.Context) error {
	j.mu.Lock()
	fresh := j.keys != nil && time.Since(j.fetchedAt) < j.TTL
	j.mu.Unlock()
	if fresh {
		return nil
	}
	if err := j.Refresh(ctx); err != nil {
		j.mu.Lock()
		held := j.keys != nil
		j.mu.Unlock()
		if held {
			return nil
		}
		return err
	}
	return nil
}

// Key returns the key for kid, refetching when stale or when kid is unknown.
func (j *JWKS) Key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	j.mu.Lock()
	stale := j.keys == nil || time.Since(j.fetchedAt) > j.TTL
	j.mu.Unlock()
	if stale {
		_ = j.Refresh(ctx) // stale keys keep working when identity is unreachable
	}
	j.mu.Lock()
	key, ok := j.keys[kid]
	mayRefetch := !ok && time.Since(j.lastRefetch) >= j.MinRefetch
	if mayRefetch {
		j.lastRefetch = time.Now()
	}
	j.mu.Unlock()
	if ok {
		return key, nil
	}
	if mayRefetch {
		_ = j.Refresh(ctx)
		j.mu.Lock()
		key, ok = j.keys[kid]
		j.mu.Unlock()
		if ok {
			return key, nil
		}
	}
	j.mu.Lock()
	never := j.keys == nil
	j.mu.Unlock()
	if never {
		return nil, ErrKeysUnavailable
	}
	return nil, fmt.Errorf("%w: the token is signed with an unknown key", ErrUnauthorized)
}

// Principal is an authenticated caller.
type Principal struct {
	UserID    string
	SessionID string
	Roles     []string
	ExpiresAt time.Time
}

// Verifier checks access tokens.
type Verifier struct {
	Keys     *JWKS
	Issuer   string
	Audience string
	Leeway   time.Duration
	Now      func() time.Time // nil: time.Now
}

var subjectRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

type claims struct {
	jwt.RegisteredClaims
	SID   string   `json:"sid"`
	Roles []string `json:"roles"`
}

// Verify returns the token's principal. Errors wrap ErrUnauthorized, or are
// ErrKeysUnavailable when identity's keys could never be fetched.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(v.Issuer),
		jwt.WithAudience(v.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.Leeway),
	}
	if v.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(v.Now))
	}
	var keyErr error
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("the token has no key id")
		}
		key, err := v.Keys.Key(ctx, kid)
		keyErr = err
		return key, err
	}, opts...)
	if errors.Is(keyErr, ErrKeysUnavailable) {
		return Principal{}, ErrKeysUnavailable
	}
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %s", ErrUnauthorized, reason(err))
	}
	if c.IssuedAt == nil {
		return Principal{}, fmt.Errorf("%w: the token has no iat", ErrUnauthorized)
	}
	if !subjectRe.MatchString(c.Subject) {
		return Principal{}, fmt.Errorf("%w: the token's subject is malformed", ErrUnauthorized)
	}
	return Principal{UserID: c.Subject, SessionID: c.SID, Roles: c.Roles, ExpiresAt: c.ExpiresAt.Time}, nil
}

func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "the token is not meant for this audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "the token has the wrong issuer"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "the token's signature is invalid"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is malformed"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the token cannot be verified: " + err.Error()
	}
	return "the token is invalid"
}
