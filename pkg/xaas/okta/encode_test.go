package okta

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEncodeUpsertUsers(t *testing.T) {
	got := string(encodeUpsertUsers([]User{
		{ExternalID: "hr-1", Profile: UserProfile{UserName: "a@example.com", FirstName: "Ä\"b", Email: "a@example.com",
			Custom: map[string]string{"zipCode": "94105", "city": "", "title": "<Boss> & co\n"}}},
		{ExternalID: "hr-2", Profile: UserProfile{LastName: "B\u2028"}},
	}))
	want := `{"entityType":"USERS","profiles":[` +
		`{"externalId":"hr-1","profile":{"userName":"a@example.com","firstName":"Ä\"b","email":"a@example.com","title":"<Boss> & co\n","zipCode":"94105"}},` +
		`{"externalId":"hr-2","profile":{"lastName":"B\u2028"}}]}`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// sampleUsers are n users shaped like the sample items API's records after mapping.
func sampleUsers(n int) []User {
	out := make([]User, n)
	for i := range out {
		email := fmt.Sprintf("user.%05d@example.com", i)
		out[i] = User{ExternalID: email, Profile: UserProfile{
			UserName: email, FirstName: "Jérôme", LastName: fmt.Sprint("Lastname", i), Email: email,
			MobilePhone: "(555) 010-0100",
			Custom: map[string]string{
				"title": "Senior Engineer", "displayName": "Jérôme Lastname", "primaryPhone": "(555) 010-0199",
				"streetAddress": "1234 Market Street", "city": "San Francisco", "state": "California",
				"zipCode": "94105", "countryCode": "US",
			},
		}}
	}
	return out
}

func TestEncodeMatchesEncodingJSON(t *testing.T) {
	users := sampleUsers(200)
	var decoded struct {
		EntityType string `json:"entityType"`
		Profiles   []struct {
			ExternalID string            `json:"externalId"`
			Profile    map[string]string `json:"profile"`
		} `json:"profiles"`
	}
	body := encodeUpsertUsers(users)
	if err := json.Unmarshal(body, &decoded); err != nil {
		t.Fatal(err)
	}
	if decoded.EntityType != "USERS" || len(decoded.Profiles) != 200 {
		t.Fatalf("decoded %s / %d", decoded.EntityType, len(decoded.Profiles))
	}
	for i, p := range decoded.Profiles {
		if p.ExternalID != users[i].ExternalID || !reflect.DeepEqual(p.Profile, profileMap(&users[i].Profile)) {
			t.Fatalf("user %d: %+v", i, p)
		}
	}
	if len(body) > 200<<10 {
		t.Errorf("a 200-user seed body is %d bytes, over Okta's ~200 KB", len(body))
	}
}

// profileMap is the profile as a map, the way encoding/json would send it.
func profileMap(p *UserProfile) map[string]string {
	m := map[string]string{}
	for _, a := range p.standard() {
		if a.value != "" {
			m[a.name] = strings.ToValidUTF8(a.value, "\uFFFD")
		}
	}
	for k, v := range p.Custom {
		if v != "" {
			m[k] = v
		}
	}
	return m
}

// nopDoer answers every request with 202 and no body.
type nopDoer struct{}

func (nopDoer) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusAccepted, Header: http.Header{}, Body: http.NoBody}, nil
}

// BenchmarkEncodeUpsertUsers encodes a 200-profile bulk-upsert body, the
// hot path of a sync, with this package's encoder and, for comparison, with
// encoding/json from structs holding a map per profile.
func BenchmarkEncodeUpsertUsers(b *testing.B) {
	users := sampleUsers(200)
	size := len(encodeUpsertUsers(users))
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		for b.Loop() {
			_ = encodeUpsertUsers(users)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		type item struct {
			ExternalID string            `json:"externalId"`
			Profile    map[string]string `json:"profile"`
		}
		b.ReportAllocs()
		b.SetBytes(int64(size))
		for b.Loop() {
			body := struct {
				EntityType string `json:"entityType"`
				Profiles   []item `json:"profiles"`
			}{"USERS", make([]item, len(users))}
			for i := range users {
				body.Profiles[i] = item{users[i].ExternalID, profileMap(&users[i].Profile)}
			}
			if _, err := json.Marshal(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUpsertUsers is one whole 200-user UpsertUsers call (validation,
// encoding, request) against a transport that answers 202 at once.
func BenchmarkUpsertUsers(b *testing.B) {
	users := sampleUsers(200)
	c, err := New("https://example.okta.com", APIToken("t"), WithHTTPClient(nopDoer{}))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.UpsertUsers(ctx, "0oa1", "uis1", users); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzDecodeError(f *testing.F) {
	f.Add(400, []byte(`{"errorCode":"E0000001","errorSummary":"Api validation failed: profiles","errorLink":"E0000001","errorId":"oae1","errorCauses":[{"errorSummary":"profiles: must not be empty"}]}`))
	f.Add(401, []byte(`{"error":"invalid_client","error_description":"The client_assertion signature is invalid."}`))
	f.Add(429, []byte(`{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests.","errorCauses":[]}`))
	f.Add(502, []byte("<html><body>Bad Gateway</body></html>"))
	f.Add(400, []byte(`{"errorCauses":["plain", {"errorSummary":1}, null]}`))
	f.Add(500, []byte{})
	f.Add(400, []byte("{\"errorSummary\":\"a\\u0000b\\nc\xff\"}"))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := decodeError(status, body)
		for _, s := range append([]string{e.ErrorCode, e.ErrorSummary, e.ErrorLink, e.ErrorID}, causes(e)...) {
			if len(s) > maxErrorText || !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\n\r\t") {
				t.Fatalf("unclean field %q", s)
			}
		}
		if len(e.ErrorCauses) > maxErrorCauses {
			t.Fatalf("%d causes", len(e.ErrorCauses))
		}
		if e.StatusCode != status {
			t.Fatal("status changed")
		}
		_ = e.Error()
		// A well-formed Okta error survives decoding.
		if json.Valid(body) && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
			var okta struct {
				ErrorCode string `json:"errorCode"`
			}
			if json.Unmarshal(body, &okta) == nil && okta.ErrorCode != "" && len(okta.ErrorCode) < 100 &&
				utf8.ValidString(okta.ErrorCode) && !strings.ContainsFunc(okta.ErrorCode, func(r rune) bool { return r < 0x20 || r == 0x7f }) &&
				strings.TrimSpace(okta.ErrorCode) == okta.ErrorCode && e.ErrorCode != okta.ErrorCode {
				t.Fatalf("errorCode %q decoded as %q", okta.ErrorCode, e.ErrorCode)
			}
		}
	})
}

func causes(e *APIError) []string {
	var out []string
	for _, c := range e.ErrorCauses {
		out = append(out, c.ErrorSummary)
	}
	return out
}

func FuzzEncodeUpsertUsers(f *testing.F) {
	f.Add("hr-1", "a@example.com", "Ä\"b\\", "title", "x\u2028y\x01")
	f.Add("\xff", "", "\t\n\r", "", "")
	f.Add("", "\u2029", "\U0001F600", "k\"", "<&>")
	f.Fuzz(func(t *testing.T, ext, first, last, key, value string) {
		u := User{ExternalID: ext, Profile: UserProfile{FirstName: first, LastName: last, Custom: map[string]string{key: value}}}
		body := encodeUpsertUsers([]User{u})
		var got struct {
			EntityType string `json:"entityType"`
			Profiles   []struct {
				ExternalID string            `json:"externalId"`
				Profile    map[string]string `json:"profile"`
			} `json:"profiles"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("invalid JSON %q: %v", body, err)
		}
		// encoding/json's rendering of the same strings is the reference.
		want := func(s string) string {
			b, _ := json.Marshal(s)
			var out string
			_ = json.Unmarshal(b, &out)
			return out
		}
		if len(got.Profiles) != 1 || got.Profiles[0].ExternalID != want(ext) {
			t.Fatalf("externalId: %q", body)
		}
		p := got.Profiles[0].Profile
		if first != "" && p["firstName"] != want(first) || last != "" && p["lastName"] != want(last) {
			t.Fatalf("names: %q", body)
		}
		if value != "" && key != "firstName" && key != "lastName" {
			if v, ok := p[want(key)]; !ok || v != want(value) {
				t.Fatalf("custom attribute: %q", body)
			}
		}
	})
}

func FuzzDecodeSession(f *testing.F) {
	f.Add([]byte(`{"id":"uij4ri8ZLk0ywyqxB0g1","identitySourceId":"0oa3l6l6WK6h0R0QW0g4","status":"CREATED","importType":"INCREMENTAL","created":"2022-04-04T15:56:05.000Z","lastUpdated":"2022-05-05T16:15:44.000Z"}`))
	f.Add([]byte(`{"id":"x","status":"TRIGGERED"}`))
	f.Add([]byte(`{"id":"x","created":12,"lastUpdated":"yesterday"}`))
	f.Add([]byte(`[{"id":"a"},{"id":"b","status":"EXPIRED"}]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if s, err := decodeSession(data); err == nil {
			if s.ID == "" {
				t.Fatal("session without ID accepted")
			}
			again, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			s2, err := decodeSession(again)
			if err != nil || s2.ID != s.ID || s2.Status != s.Status || !s2.Created.Equal(s.Created) || !s2.LastUpdated.Equal(s.LastUpdated) {
				t.Fatalf("round trip %+v → %s → %+v, %v", s, again, s2, err)
			}
		}
		if list, err := decodeSessions(data); err == nil && list == nil {
			t.Fatal("nil list")
		}
	})
}

func FuzzParsePrivateKey(f *testing.F) {
	f.Add([]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQ","p":"Aw","q":"Bw"}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA"}]}`))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, _, err := ParsePrivateKey(data)
		if err != nil {
			if k != nil {
				t.Fatal("key and error")
			}
			return
		}
		if bits := k.N.BitLen(); bits < 2048 || bits > 8192 {
			t.Fatalf("accepted a %d-bit key", bits)
		}
	})
}

func TestBackoffIsBoundedAndJittered(t *testing.T) {
	c, err := New("https://example.okta.com", APIToken("t"),
		WithRetryPolicy(RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 40; attempt++ {
		ceiling := min(time.Second, 100*time.Millisecond<<min(attempt-1, 20))
		for range 50 {
			if d := c.backoff(attempt); d < 0 || d >= ceiling {
				t.Fatalf("attempt %d: backoff %v outside [0, %v)", attempt, d, ceiling)
			}
		}
	}
}
