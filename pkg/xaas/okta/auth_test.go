package okta_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/xaas/okta"
	"github.com/scimless/scimless/pkg/xaas/oktafake"
)

func tokenRequests(e *env) []oktafake.Request {
	var out []oktafake.Request
	for _, r := range e.fake.Requests() {
		if r.Path == "/oauth2/v1/token" {
			out = append(out, r)
		}
	}
	return out
}

func TestJWTTokenIsCached(t *testing.T) {
	e := newEnv(t, useJWT, oktafake.Options{})
	list := func() {
		t.Helper()
		if _, err := e.client.ListSessions(ctx(t), sourceID); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		list()
	}
	reqs := tokenRequests(e)
	if len(reqs) != 1 {
		t.Fatalf("%d token requests for 3 calls", len(reqs))
	}
	form, err := url.ParseQuery(string(reqs[0].Body))
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("grant_type") != "client_credentials" || form.Get("scope") != okta.ScopeManage ||
		form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		t.Errorf("token request form %v", form)
	}
	if reqs[0].Header.Get("Authorization") != "" || reqs[0].Header.Get("DPoP") != "" {
		t.Error("token request carries Authorization or DPoP")
	}
	// The assertion the fake accepted.
	_, claims, err := oktafake.VerifyAssertion(form.Get("client_assertion"),
		[]oktafake.OAuthClient{{ClientID: clientID, PublicKey: &testKey().PublicKey, KeyID: keyID}},
		e.srv.URL+"/oauth2/v1/token", start)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Iat != start.Unix() || claims.Exp != start.Add(5*time.Minute).Unix() || claims.JTI == "" {
		t.Errorf("claims %+v", claims)
	}

	// The 1 h token is replaced a minute before it expires.
	e.clock.Advance(58 * time.Minute)
	list()
	if n := len(tokenRequests(e)); n != 1 {
		t.Fatalf("token refreshed early: %d requests", n)
	}
	e.clock.Advance(time.Minute)
	list()
	if n := len(tokenRequests(e)); n != 2 {
		t.Fatalf("token not refreshed before expiry: %d requests", n)
	}
}

func TestJWTConcurrentCallsShareOneToken(t *testing.T) {
	e := newEnv(t, useJWT, oktafake.Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			if _, err := e.client.ListSessions(ctx(t), sourceID); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(tokenRequests(e)); n != 1 {
		t.Errorf("%d token requests for 20 concurrent calls", n)
	}
}

func TestJWTRefreshAfter401(t *testing.T) {
	e := newEnv(t, useJWT, oktafake.Options{})
	if _, err := e.client.ListSessions(ctx(t), sourceID); err != nil {
		t.Fatal(err)
	}
	e.fake.RevokeTokens()
	if _, err := e.client.ListSessions(ctx(t), sourceID); err != nil {
		t.Fatal(err)
	}
	want := []string{"POST /oauth2/v1/token 200", "GET /sessions 200", "GET /sessions 401",
		"POST /oauth2/v1/token 200", "GET /sessions 200"}
	if got := e.calls(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls\n got %v\nwant %v", got, want)
	}
}

func TestJWTTokenEndpointRetries(t *testing.T) {
	e := newEnv(t, useJWT, oktafake.Options{})
	e.fake.FailNext(2, 503)
	if _, err := e.client.ListSessions(ctx(t), sourceID); err != nil {
		t.Fatal(err)
	}
	want := []string{"POST /oauth2/v1/token 503", "POST /oauth2/v1/token 503", "POST /oauth2/v1/token 200", "GET /sessions 200"}
	if got := e.calls(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("calls\n got %v\nwant %v", got, want)
	}
}

func TestJWTErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     oktafake.Options
		cred     okta.PrivateKeyJWT
		wantCode string
		status   int
	}{
		{name: "wrong key", cred: okta.PrivateKeyJWT{ClientID: clientID, KeyID: keyID, Key: otherKey()},
			wantCode: "invalid_client", status: 401},
		{name: "wrong kid", cred: okta.PrivateKeyJWT{ClientID: clientID, KeyID: "other", Key: testKey()},
			wantCode: "invalid_client", status: 401},
		{name: "unknown client", cred: okta.PrivateKeyJWT{ClientID: "0oaNOPE", KeyID: keyID, Key: testKey()},
			wantCode: "invalid_client", status: 401},
		{name: "wrong audience", opts: oktafake.Options{TokenAudience: "https://other.okta.com/oauth2/v1/token"},
			cred: okta.PrivateKeyJWT{ClientID: clientID, KeyID: keyID, Key: testKey()}, wantCode: "invalid_client", status: 401},
		{name: "scope not granted", cred: okta.PrivateKeyJWT{ClientID: clientID, KeyID: keyID, Key: testKey(),
			Scopes: []string{"okta.users.manage"}}, wantCode: "invalid_scope", status: 400},
		{name: "DPoP required", opts: oktafake.Options{RequireDPoP: true},
			cred: okta.PrivateKeyJWT{ClientID: clientID, KeyID: keyID, Key: testKey()}, wantCode: "invalid_dpop_proof", status: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, useSSWS, tc.opts)
			c, err := okta.New(e.srv.URL, tc.cred, okta.WithHTTPClient(e.srv.Client()), okta.WithClock(e.clock.Now), okta.WithSleep(e.sleep))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.CreateSession(ctx(t), sourceID)
			ae := apiError(t, err)
			if ae.StatusCode != tc.status || ae.ErrorCode != tc.wantCode || ae.Path != "/oauth2/v1/token" || ae.ErrorSummary == "" {
				t.Fatalf("err = %#v", ae)
			}
			if got := e.calls(); len(got) != 1 {
				t.Errorf("calls %v; want one token request and no retry", got)
			}
		})
	}
}

func TestJWTScopeEnforcedByFake(t *testing.T) {
	e := newEnv(t, useSSWS, oktafake.Options{OAuthClients: []oktafake.OAuthClient{{
		ClientID: "0oaREADONLY", PublicKey: &otherKey().PublicKey, Scopes: []string{okta.ScopeRead},
	}}})
	c, err := okta.New(e.srv.URL, okta.PrivateKeyJWT{ClientID: "0oaREADONLY", Key: otherKey(), Scopes: []string{okta.ScopeRead}},
		okta.WithHTTPClient(e.srv.Client()), okta.WithClock(e.clock.Now), okta.WithSleep(e.sleep))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListSessions(ctx(t), sourceID); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateSession(ctx(t), sourceID)
	if ae := apiError(t, err); ae.StatusCode != 403 || ae.ErrorCode != okta.CodeForbidden {
		t.Fatalf("err = %v", err)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jwkOf(k *rsa.PrivateKey, kid string) map[string]string {
	return map[string]string{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()), "d": b64(k.D.Bytes()),
		"p": b64(k.Primes[0].Bytes()), "q": b64(k.Primes[1].Bytes()),
		"dp": b64(k.Precomputed.Dp.Bytes()), "dq": b64(k.Precomputed.Dq.Bytes()), "qi": b64(k.Precomputed.Qinv.Bytes()),
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestParsePrivateKey(t *testing.T) {
	k := testKey()
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(k)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	public := jwkOf(k, "pub")
	delete(public, "d")
	delete(public, "p")
	delete(public, "q")
	broken := jwkOf(k, "x")
	broken["p"] = broken["q"]

	for _, tc := range []struct {
		name    string
		in      []byte
		wantKid string
		wantErr string
	}{
		{name: "PKCS #1 PEM", in: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})},
		{name: "PKCS #8 PEM", in: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})},
		{name: "JWK", in: mustJSON(jwkOf(k, "kid-1")), wantKid: "kid-1"},
		{name: "JWK set", in: mustJSON(map[string]any{"keys": []any{jwkOf(k, "kid-2")}}), wantKid: "kid-2"},
		{name: "EC key", in: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), wantErr: "not an RSA key"},
		{name: "1024-bit key", in: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)}),
			wantErr: "1024 bits"},
		{name: "public JWK", in: mustJSON(public), wantErr: "no private part"},
		{name: "inconsistent JWK", in: mustJSON(broken), wantErr: "inconsistent"},
		{name: "two keys", in: mustJSON(map[string]any{"keys": []any{jwkOf(k, "a"), jwkOf(k, "b")}}), wantErr: "exactly one"},
		{name: "certificate", in: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), wantErr: "unsupported PEM"},
		{name: "garbage", in: []byte("hello"), wantErr: "neither PEM nor JWK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, kid, err := okta.ParsePrivateKey(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(k) || kid != tc.wantKid {
				t.Errorf("key differs or kid %q", kid)
			}
		})
	}
}

// TestJWKEndToEnd uses a key as Okta's console hands it out (a JWK) to get
// a token from the fake.
func TestJWKEndToEnd(t *testing.T) {
	e := newEnv(t, useSSWS, oktafake.Options{})
	cred, err := okta.NewPrivateKeyJWT(clientID, mustJSON(jwkOf(testKey(), keyID)))
	if err != nil {
		t.Fatal(err)
	}
	if cred.KeyID != keyID {
		t.Fatalf("KeyID %q", cred.KeyID)
	}
	c, err := okta.New(e.srv.URL, &cred, okta.WithHTTPClient(e.srv.Client()), okta.WithClock(e.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSession(ctx(t), sourceID); err != nil {
		t.Fatal(err)
	}
}

func TestCredentialsAreRedacted(t *testing.T) {
	tok := okta.APIToken("00secret-token-value")
	cred := okta.PrivateKeyJWT{ClientID: clientID, KeyID: keyID, Key: testKey()}
	d := testKey().D.String()[:20]
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		for _, v := range []any{tok, &tok, cred, &cred, struct{ C okta.Credentials }{tok}, struct{ C okta.Credentials }{cred}} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, "secret-token") || strings.Contains(out, d) {
				t.Errorf("%s of %T leaks a credential: %s", verb, v, out)
			}
		}
	}
}
