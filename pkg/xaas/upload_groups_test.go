package xaas

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/xaas/okta"
)

// TestPlanGroupsFits: the fits-check takes exactly the groups that a plan
// rebuilt with each group added would take.
func TestPlanGroupsFits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%05d", prefix, i)
		}
		return out
	}
	for trial := range 300 {
		b := 1 + rng.IntN(12)
		page := make([]*store.SourceGroup, 1+rng.IntN(15))
		for i := range page {
			g := &store.SourceGroup{ExternalID: fmt.Sprintf("g%03d", i), Version: 1, Deleted: rng.IntN(5) == 0}
			if !g.Deleted {
				all := ids("m", rng.IntN(3*b+1))
				for _, m := range all {
					switch rng.IntN(3) {
					case 0:
						g.Members = append(g.Members, m)
					case 1:
						g.Pushed = append(g.Pushed, m)
					default:
						g.Members, g.Pushed = append(g.Members, m), append(g.Pushed, m)
					}
				}
			}
			page[i] = g
		}
		uploadsLeft, entLeft := 1+rng.IntN(20), 1+rng.IntN(60)
		plan, k := planGroups(page, b, uploadsLeft, entLeft)
		// Reference: rebuild the plan with each next group and check it.
		var ref groupPlan
		wantK := 0
		for _, g := range page {
			var next groupPlan
			for _, h := range page[:wantK] {
				next.add(changeOf(h), b)
			}
			next.add(changeOf(g), b)
			if next.uploads() > uploadsLeft || next.entities() > entLeft {
				break
			}
			ref, wantK = next, wantK+1
		}
		if k != wantK || plan.uploads() != ref.uploads() || plan.entities() != ref.entities() ||
			!equalReqs(plan.adds, ref.adds) || !equalReqs(plan.removes, ref.removes) {
			t.Fatalf("trial %d (b=%d, %d uploads, %d entities left): k=%d, want %d", trial, b, uploadsLeft, entLeft, k, wantK)
		}
	}
}

func equalReqs(a, b [][]okta.Membership) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j].GroupExternalID != b[i][j].GroupExternalID || !slices.Equal(a[i][j].MemberExternalIDs, b[i][j].MemberExternalIDs) {
				return false
			}
		}
	}
	return true
}
