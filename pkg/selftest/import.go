package selftest

import (
	"context"
	"fmt"
	"slices"
)

// importPage is Okta's import page size.
const importPage = 100

// importFlow pages through /Users and /Groups as Okta's import does
// (startIndex=1, 101, … with count=100) and checks exact totals, no
// repeats or gaps, and a stable order.
func (f *flow) importFlow(ctx context.Context) {
	r := f.r
	var seeded []string
	f.step(ctx, "enough users for three pages", func(ctx context.Context) error {
		l, err := f.list(ctx, request{Method: "GET", Path: "/Users?startIndex=1&count=1", Dialect: Okta})
		if err != nil {
			return err
		}
		need := 2*importPage + 1 - l.TotalResults
		if need <= 0 {
			// Check the run's own users show up when it made some.
			seeded = f.r.createdUsers()
			return nil
		}
		seeded, _, err = f.createMembers(ctx, "import", need)
		return err
	})
	f.step(ctx, "Okta import: page /Users with count=100", func(ctx context.Context) error {
		return f.pageAll(ctx, "/Users", seeded)
	})
	if !r.caps.Groups {
		f.skip("Okta import: page /Groups with count=100", "the server lists no /Groups resource type")
		return
	}
	var groups []string
	f.step(ctx, "a group to import", func(ctx context.Context) error {
		o, err := f.createGroup(ctx, r.prefix+"-import")
		if err != nil {
			return err
		}
		groups = append(groups, o.str("id"))
		return nil
	})
	f.step(ctx, "Okta import: page /Groups with count=100", func(ctx context.Context) error {
		return f.pageAll(ctx, "/Groups", groups)
	})
}

// createdUsers returns the ids of the users the run created so far.
func (r *runner) createdUsers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.created.users)
}

// pageAll reads every page of endpoint and checks it: each page echoes its
// startIndex and is full until the last, totalResults never changes, no id
// repeats, the pages add up to totalResults, the ids in mustHave are all
// there, and reading the first page again gives the same order.
func (f *flow) pageAll(ctx context.Context, endpoint string, mustHave []string) error {
	seen := map[string]bool{}
	var order []string
	total := -1
	start := 1
	var first []string
	for {
		req := request{Method: "GET", Path: fmt.Sprintf("%s?startIndex=%d&count=%d", endpoint, start, importPage), Dialect: Okta}
		l, err := f.list(ctx, req)
		if err != nil {
			return err
		}
		if total < 0 {
			total = l.TotalResults
			first = l.ids()
		} else if l.TotalResults != total {
			return checkf(false, req, "totalResults changed from %d to %d while paging (nothing else should write during a selftest)", total, l.TotalResults)
		}
		if l.StartIndex >= 0 && l.StartIndex != start {
			return checkf(false, req, "startIndex %d echoed, want %d", l.StartIndex, start)
		}
		remaining := total - (start - 1)
		if want := min(importPage, remaining); len(l.Resources) != want && remaining > 0 {
			return checkf(false, req, "%d resources on a page that should hold %d of %d: Okta advances startIndex by 100 and would skip or repeat records", len(l.Resources), want, total)
		}
		for _, id := range l.ids() {
			if id == "" {
				return checkf(false, req, "a resource without an id")
			}
			if seen[id] {
				return checkf(false, req, "id %s repeated across pages: the order is not stable", id)
			}
			seen[id] = true
			order = append(order, id)
		}
		if len(l.Resources) == 0 || start+importPage > total {
			break
		}
		start += importPage
	}
	if len(order) != total {
		return fmt.Errorf("GET %s: pages hold %d resources, totalResults says %d", endpoint, len(order), total)
	}
	for _, id := range mustHave {
		if !seen[id] {
			return fmt.Errorf("GET %s: %s, created by this run, is on no page", endpoint, id)
		}
	}
	req := request{Method: "GET", Path: fmt.Sprintf("%s?startIndex=1&count=%d", endpoint, importPage), Dialect: Okta}
	l, err := f.list(ctx, req)
	if err != nil {
		return err
	}
	return checkf(slices.Equal(l.ids(), first), req, "the first page changed order between two reads")
}
