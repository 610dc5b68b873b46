package oktafake

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// oauthError is the OAuth 2.0 error body of the token endpoint.
type oauthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// token serves POST /oauth2/v1/token: the client_credentials grant with a
// private_key_jwt client assertion.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, desc string) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, status, oauthError{code, desc})
	}
	now := info(r).now
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		fail(http.StatusBadRequest, "invalid_request", "The request must be application/x-www-form-urlencoded.")
		return
	}
	form, err := url.ParseQuery(string(info(r).body))
	if err != nil {
		fail(http.StatusBadRequest, "invalid_request", "The request body is not a valid form.")
		return
	}
	if s.opts.RequireDPoP && r.Header.Get("DPoP") == "" {
		fail(http.StatusBadRequest, "invalid_dpop_proof", "The DPoP proof JWT header is missing.")
		return
	}
	if form.Get("grant_type") != "client_credentials" {
		fail(http.StatusBadRequest, "unsupported_grant_type", "The grant_type is not supported; use client_credentials.")
		return
	}
	if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		fail(http.StatusUnauthorized, "invalid_client", "Client authentication failed: client_assertion_type must be jwt-bearer.")
		return
	}
	aud := s.opts.TokenAudience
	if aud == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		aud = scheme + "://" + r.Host + r.URL.Path
	}
	client, claims, err := VerifyAssertion(form.Get("client_assertion"), s.opts.OAuthClients, aud, now)
	if err != nil {
		fail(http.StatusUnauthorized, "invalid_client", err.Error())
		return
	}
	if claims.JTI != "" {
		for id, exp := range s.usedJTIs {
			if now.After(exp) {
				delete(s.usedJTIs, id)
			}
		}
		key := client.ClientID + "\x00" + claims.JTI
		if _, used := s.usedJTIs[key]; used {
			fail(http.StatusUnauthorized, "invalid_client", "The client_assertion token has already been used (jti replay).")
			return
		}
		s.usedJTIs[key] = time.Unix(claims.Exp, 0)
	}
	scopes := strings.Fields(form.Get("scope"))
	if len(scopes) == 0 {
		fail(http.StatusBadRequest, "invalid_scope", "The client_credentials grant requires at least one scope.")
		return
	}
	for _, sc := range scopes {
		if !slices.Contains(client.Scopes, sc) {
			fail(http.StatusBadRequest, "invalid_scope", "The following scopes are not allowed: "+sc)
			return
		}
	}
	tok := fmt.Sprintf("fakeat%012d", s.seq)
	s.tokens[tok] = accessToken{scopes: scopes, expires: now.Add(s.opts.TokenTTL)}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":   "Bearer",
		"expires_in":   int64(s.opts.TokenTTL / time.Second),
		"access_token": tok,
		"scope":        strings.Join(scopes, " "),
	})
}

// Claims are the checked claims of a client assertion.
type Claims struct {
	// Iss is the issuer, the client ID.
	Iss string `json:"iss"`
	// Sub is the subject, the client ID again.
	Sub string `json:"sub"`
	// Aud is the audience: a string or an array of strings.
	Aud any `json:"aud"`
	// Exp is the expiry, in Unix seconds.
	Exp int64 `json:"exp"`
	// Iat is the issue time, in Unix seconds (optional).
	Iat int64 `json:"iat"`
	// JTI is the assertion's unique ID (optional), checked against replay.
	JTI string `json:"jti"`
}

// maxAssertion bounds the size of a client assertion.
const maxAssertion = 16 << 10

// VerifyAssertion checks a private_key_jwt client assertion as Okta does:
// a compact JWS signed RS256 by the key of the client named by iss (and
// sub, which must equal it) among clients, with the given kid if the client
// has a KeyID, aud equal to audience, exp after now and at most one hour
// ahead, and iat (if present) not in the future. It returns the client and
// the claims.
func VerifyAssertion(jwt string, clients []OAuthClient, audience string, now time.Time) (OAuthClient, Claims, error) {
	var claims Claims
	if len(jwt) == 0 || len(jwt) > maxAssertion {
		return OAuthClient{}, claims, errors.New("client_assertion is missing or too long")
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return OAuthClient{}, claims, errors.New("client_assertion is not a compact JWS")
	}
	enc := base64.RawURLEncoding
	hb, err := enc.DecodeString(parts[0])
	if err != nil {
		return OAuthClient{}, claims, errors.New("client_assertion header is not base64url")
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(hb, &header); err != nil {
		return OAuthClient{}, claims, errors.New("client_assertion header is not JSON")
	}
	if header.Alg != "RS256" {
		return OAuthClient{}, claims, errors.New("client_assertion alg must be RS256")
	}
	cb, err := enc.DecodeString(parts[1])
	if err != nil {
		return OAuthClient{}, claims, errors.New("client_assertion claims are not base64url")
	}
	if err := json.Unmarshal(cb, &claims); err != nil {
		return OAuthClient{}, Claims{}, errors.New("client_assertion claims are not JSON")
	}
	if claims.Iss == "" || claims.Iss != claims.Sub {
		return OAuthClient{}, claims, errors.New("client_assertion iss and sub must both be the client_id")
	}
	var client *OAuthClient
	for i := range clients {
		if clients[i].ClientID == claims.Iss {
			client = &clients[i]
		}
	}
	if client == nil || client.PublicKey == nil {
		return OAuthClient{}, claims, errors.New("client_assertion names an unknown client")
	}
	if client.KeyID != "" && header.Kid != client.KeyID {
		return OAuthClient{}, claims, errors.New("client_assertion kid does not match a key of the client")
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return OAuthClient{}, claims, errors.New("client_assertion signature is not base64url")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(client.PublicKey, crypto.SHA256, digest[:], sig) != nil {
		return OAuthClient{}, claims, errors.New("The client_assertion signature is invalid.")
	}
	if !audienceMatches(claims.Aud, audience) {
		return OAuthClient{}, claims, fmt.Errorf("The audience [aud] claim must be %s.", audience)
	}
	switch {
	case claims.Exp == 0:
		return OAuthClient{}, claims, errors.New("client_assertion has no exp")
	case !now.Before(time.Unix(claims.Exp, 0)):
		return OAuthClient{}, claims, errors.New("The client_assertion token is expired.")
	case time.Unix(claims.Exp, 0).Sub(now) > time.Hour:
		return OAuthClient{}, claims, errors.New("The client_assertion token has an expiration too far into the future.")
	case claims.Iat != 0 && time.Unix(claims.Iat, 0).After(now.Add(time.Minute)):
		return OAuthClient{}, claims, errors.New("The client_assertion token was issued in the future.")
	}
	return *client, claims, nil
}

func audienceMatches(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}
