package selftest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Event is one directory event of an Events API:
// GET /events/v1?after=CURSOR&limit=N&types=T1,T2 answers
// {"data":[Event…],"next":"CURSOR"}.
type Event struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Tenant  string          `json:"tenant"`
	Time    string          `json:"time"`
	Data    json.RawMessage `json:"data"`
	Changed []string        `json:"changed"`
	Actor   json.RawMessage `json:"actor"`
}

// EventPage is one page of the Events API.
type EventPage struct {
	Data []Event `json:"data"`
	Next string  `json:"next"`
}

// ParseEventPage decodes and checks an Events API page: data is an array
// of events with an id and a type, next a string.
func ParseEventPage(b []byte) (*EventPage, error) {
	var raw struct {
		Data *[]json.RawMessage `json:"data"`
		Next *string            `json:"next"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("events page: %w", err)
	}
	if raw.Data == nil {
		return nil, errors.New(`events page: "data" is missing`)
	}
	p := &EventPage{}
	if raw.Next != nil {
		p.Next = *raw.Next
	}
	for i, d := range *raw.Data {
		var e Event
		if err := json.Unmarshal(d, &e); err != nil {
			return nil, fmt.Errorf("events page: data[%d]: %w", i, err)
		}
		if e.ID == "" || e.Type == "" {
			return nil, fmt.Errorf("events page: data[%d] lacks an id or a type", i)
		}
		p.Data = append(p.Data, e)
	}
	return p, nil
}

// maxDrainPages bounds the pages read to find the end of the event stream.
const maxDrainPages = 200

// expectedEvent is an operation whose event the flow waits for.
type expectedEvent struct {
	name  string   // step name
	id    string   // the resource id the event must name
	verbs []string // one of these must be in the event type
	found bool
}

// eventsFlow checks that each operation produces its event in the Events
// API within Config.EventWait. A server without an Events API is a skip.
//
// It is long because it is one script: each operation is made, then its
// event awaited, in order.
func (f *flow) eventsFlow(ctx context.Context) {
	r := f.r
	var cursor string
	supported := f.step(ctx, "Events API: GET /events/v1", func(ctx context.Context) error {
		req := request{Method: "GET", Path: "?limit=1", Dialect: Plain, NoRetry: true}
		resp, err := f.send(ctx, r.events, req)
		if err != nil {
			return skipf("not supported: %s at %s is not reachable", req.Method, r.events.base)
		}
		switch resp.Status {
		case http.StatusOK:
		case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
			return skipf("not supported: GET %s answered %d", r.events.base, resp.Status)
		case http.StatusUnauthorized, http.StatusForbidden:
			return skipf("not checked: the token may not read events (GET %s answered %d)", r.events.base, resp.Status)
		default:
			return statusError(request{Method: "GET", Path: r.events.base}, resp, []int{200})
		}
		if _, err := ParseEventPage(resp.Body); err != nil {
			return fmt.Errorf("GET %s: %w", r.events.base, err)
		}
		// Find the end of the stream, so only new events are read.
		for i := 0; ; i++ {
			if i == maxDrainPages {
				return fmt.Errorf("GET %s: no end of the stream after %d pages", r.events.base, maxDrainPages)
			}
			path := "?limit=100"
			if cursor != "" {
				path += "&after=" + url.QueryEscape(cursor)
			}
			p, err := f.events(ctx, path)
			if err != nil {
				return err
			}
			if p.Next != "" {
				cursor = p.Next
			}
			if len(p.Data) == 0 || p.Next == "" {
				return nil
			}
		}
	})
	if !supported {
		return
	}
	var want []*expectedEvent
	f.step(ctx, "operations that produce events", func(ctx context.Context) error {
		u, err := f.createUser(ctx, oktaUser(r.userName("events", 1), "Selftest", "Events"), Okta)
		if err != nil {
			return err
		}
		uid := u.str("id")
		want = append(want, &expectedEvent{name: "user created", id: uid, verbs: []string{"creat"}})
		req := request{Method: "PATCH", Path: "/Users/" + url.PathEscape(uid), Dialect: Okta, Body: patchOp(op("replace", "", map[string]any{"active": false}))}
		if _, err := f.expect(ctx, req, 200, 204); err != nil {
			return err
		}
		want = append(want, &expectedEvent{name: "user deactivated", id: uid, verbs: []string{"updat", "deactivat", "modif", "patch"}})
		if r.caps.Groups {
			g, err := f.createGroup(ctx, r.prefix+"-events")
			if err != nil {
				return err
			}
			gid := g.str("id")
			want = append(want, &expectedEvent{name: "group created", id: gid, verbs: []string{"creat"}})
			mreq := request{Method: "PATCH", Path: "/Groups/" + url.PathEscape(gid), Dialect: Okta, Body: patchOp(op("add", "members", []any{map[string]any{"value": uid}}))}
			if _, err := f.expect(ctx, mreq, 200, 204); err != nil {
				return err
			}
			want = append(want, &expectedEvent{name: "member added", id: gid, verbs: []string{"member", "updat", "modif"}})
			if _, err := f.expect(ctx, request{Method: "DELETE", Path: "/Groups/" + url.PathEscape(gid), Dialect: Okta}, 204); err != nil {
				return err
			}
			r.forget("groups", gid)
			want = append(want, &expectedEvent{name: "group deleted", id: gid, verbs: []string{"delet", "remov"}})
		}
		if _, err := f.expect(ctx, request{Method: "DELETE", Path: "/Users/" + url.PathEscape(uid), Dialect: Entra}, 204); err != nil {
			return err
		}
		r.forget("users", uid)
		want = append(want, &expectedEvent{name: "user deleted", id: uid, verbs: []string{"delet", "remov"}})
		return nil
	})
	if f.failed {
		return
	}
	start := time.Now()
	var pollErr error
	for pollErr == nil && time.Since(start) < r.cfg.EventWait {
		path := "?limit=100"
		if cursor != "" {
			path += "&after=" + url.QueryEscape(cursor)
		}
		p, err := f.events(ctx, path)
		if err != nil {
			pollErr = err
			break
		}
		for _, e := range p.Data {
			matchEvent(want, e)
		}
		if p.Next != "" {
			cursor = p.Next
		}
		if allFound(want) {
			break
		}
		if len(p.Data) == 0 {
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
				t.Stop()
				pollErr = ctx.Err()
			case <-t.C:
			}
		}
	}
	waited := time.Since(start)
	for _, w := range want {
		f.step(ctx, "event: "+w.name, func(ctx context.Context) error {
			if w.found {
				return nil
			}
			if pollErr != nil {
				return pollErr
			}
			return fmt.Errorf("no %s event naming %s within %s", strings.Join(w.verbs, "|"), w.id, waited.Round(time.Second))
		})
		f.failed = false // each event is its own check
	}
}

// events reads one page of the Events API.
func (f *flow) events(ctx context.Context, path string) (*EventPage, error) {
	req := request{Method: "GET", Path: path, Dialect: Plain}
	resp, err := f.expectOn(ctx, f.r.events, req, 200)
	if err != nil {
		return nil, err
	}
	p, err := ParseEventPage(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s%s: %w", f.r.events.base, path, err)
	}
	return p, nil
}

// matchEvent marks the first expected event e stands for.
func matchEvent(want []*expectedEvent, e Event) {
	typ := strings.ToLower(e.Type)
	for _, w := range want {
		if w.found || !bytes.Contains(e.Data, []byte(w.id)) {
			continue
		}
		for _, v := range w.verbs {
			if strings.Contains(typ, v) {
				w.found = true
				return
			}
		}
	}
}

func allFound(want []*expectedEvent) bool {
	for _, w := range want {
		if !w.found {
			return false
		}
	}
	return true
}
