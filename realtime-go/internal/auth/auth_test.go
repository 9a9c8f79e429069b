package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const user = "0193f5a0-6b7c-7d2e-9f10-2a3b4c5d6e7f"

type keyServer struct {
	mu   sync.Mutex
	keys map[string]*rsa.PrivateKey
	hits int
}

func (k *keyServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.hits++
	var out []map[string]string
	for kid, key := range k.keys {
		out = append(out, map[string]string{
			"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		})
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": out})
}

func (k *keyServer) add(t *testing.T, kid string) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	k.keys[kid] = key
	k.mu.Unlock()
	return key
}

func sign(t *testing.T, key any, method jwt.SigningMethod, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mkClaims(exp time.Duration) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": "platform-identity", "aud": "platform", "sub": user, "sid": user, "roles": []string{"user"},
		"iat": now.Unix(), "exp": now.Add(exp).Unix(),
	}
}

func setup(t *testing.T) (*keyServer, *Verifier) {
	ks := &keyServer{keys: map[string]*rsa.PrivateKey{}}
	srv := httptest.NewServer(ks)
	t.Cleanup(srv.Close)
	v := &Verifier{Keys: NewJWKS(srv.URL, time.Minute, time.Hour), Issuer: "platform-identity", Audience: "platform"}
	return ks, v
}

func TestValidTokenGivesThePrincipalAndItsExpiry(t *testing.T) {
	ks, v := setup(t)
	key := ks.add(t, "k1")
	c := mkClaims(time.Minute)
	p, err := v.Verify(context.Background(), sign(t, key, jwt.SigningMethodRS256, "k1", c))
	if err != nil {
		t.Fatal(err)
	}
	if p.UserID != user || p.ExpiresAt.Unix() != c["exp"].(int64) || len(p.Roles) != 1 {
		t.Fatalf("principal = %+v", p)
	}
}

func TestRefusedTokens(t *testing.T) {
	ks, v := setup(t)
	key := ks.add(t, "k1")
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	cases := map[string]string{
		"expired":     sign(t, key, jwt.SigningMethodRS256, "k1", mkClaims(-time.Minute)),
		"wrong aud":   sign(t, key, jwt.SigningMethodRS256, "k1", func() jwt.MapClaims { c := mkClaims(time.Minute); c["aud"] = "other"; return c }()),
		"wrong iss":   sign(t, key, jwt.SigningMethodRS256, "k1", func() jwt.MapClaims { c := mkClaims(time.Minute); c["iss"] = "evil"; return c }()),
		"no exp":      sign(t, key, jwt.SigningMethodRS256, "k1", func() jwt.MapClaims { c := mkClaims(time.Minute); delete(c, "exp"); return c }()),
		"bad subject": sign(t, key, jwt.SigningMethodRS256, "k1", func() jwt.MapClaims { c := mkClaims(time.Minute); c["sub"] = "admin"; return c }()),
		"foreign key": sign(t, other, jwt.SigningMethodRS256, "k1", mkClaims(time.Minute)),
		"no kid":      sign(t, key, jwt.SigningMethodRS256, "", mkClaims(time.Minute)),
		"hs256":       sign(t, []byte("secret"), jwt.SigningMethodHS256, "k1", mkClaims(time.Minute)),
		"alg none":    sign(t, jwt.UnsafeAllowNoneSignatureType, jwt.SigningMethodNone, "k1", mkClaims(time.Minute)),
		"garbage":     "not.a.token",
	}
	for name, tok := range cases {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s: err = %v, want ErrUnauthorized", name, err)
		}
	}
}

func TestUnknownKidRefetchesOnceThenIsRateLimited(t *testing.T) {
	ks, v := setup(t)
	ks.add(t, "k1")
	v.Keys.MinRefetch = time.Hour
	if err := v.Keys.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	rotated := ks.add(t, "k2") // identity rotated its key after our fetch
	if _, err := v.Verify(context.Background(), sign(t, rotated, jwt.SigningMethodRS256, "k2", mkClaims(time.Minute))); err != nil {
		t.Fatalf("token signed by the new key refused: %v", err)
	}
	before := ks.hits
	for range 5 {
		tok := sign(t, rotated, jwt.SigningMethodRS256, "unknown", mkClaims(time.Minute))
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if ks.hits-before > 1 {
		t.Fatalf("unknown kids caused %d refetches, want at most 1", ks.hits-before)
	}
}

func TestUnreachableJWKSIsUnavailableNotUnauthorized(t *testing.T) {
	v := &Verifier{Keys: NewJWKS("http://127.0.0.1:1/jwks", time.Minute, 0), Issuer: "platform-identity", Audience: "platform"}
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, err := v.Verify(context.Background(), sign(t, key, jwt.SigningMethodRS256, "k1", mkClaims(time.Minute)))
	if !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if v.Keys.Ready(context.Background()) == nil {
		t.Fatal("Ready passed without keys")
	}
}
