package api_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/scimless/scimless/pkg/events/api"
	"github.com/scimless/scimless/pkg/store/storetest"
)

// FuzzQuery sends arbitrary query strings: every answer is 200 or a 400
// with a reason, never a panic or another status.
func FuzzQuery(f *testing.F) {
	env := storetest.New(f)
	h := api.New(env.Store, tokens, api.WithPoll(time.Millisecond))
	f.Add("after=&limit=10&types=user.created&wait=0s")
	f.Add("limit=-1&wait=1h")
	f.Add("after=" + "1234567890123456789012345678901234567890123456789012345678")
	f.Add("wait=7&types=,,")
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		if d, err := time.ParseDuration(v.Get("wait")); err == nil && d > 0 && d <= api.MaxWait {
			v.Set("wait", "0s") // a valid long poll: not while fuzzing
		} else if n, err := strconv.Atoi(v.Get("wait")); err == nil && n > 0 && n <= 25 {
			v.Set("wait", "0")
		}
		req := httptest.NewRequest(http.MethodGet, api.Path+"?"+v.Encode(), nil)
		req.Header.Set("Authorization", "Bearer ev")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 400 {
			t.Fatalf("%s: status %d %s", q, rec.Code, rec.Body)
		}
	})
}
