// Package tablecheck reads the whole scimless table and reports items that
// nothing owns any more: memberships of deleted groups or users, uniqueness
// guards of deleted resources, group ids a user keeps for groups it is no
// longer in, and resource counters that disagree with the resources. These
// are invisible through the API, so only the table can show them.
package tablecheck

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/table"
)

// Problem is one item without an owner, or one counter that is wrong.
type Problem struct {
	Kind string // "orphan membership", "orphan userName guard", …
	Key  string // the item's "pk / sk"
	Why  string
}

func (p Problem) String() string { return p.Kind + " " + p.Key + ": " + p.Why }

// Result is what a check of the table found.
type Result struct {
	Items       int
	Users       int
	Groups      int
	Memberships int
	Problems    []Problem
}

// item is the part of an item the check reads.
type item struct {
	pk, sk, typ, id, uid, gid string
	groups                    []string
	n                         int
}

// Check scans the table and returns its problems, sorted by kind and key.
// It reads every item, so it is for the local stack and tests, not for a
// production table.
func Check(ctx context.Context, client *dynamodb.Client, tableName string) (*Result, error) {
	var items []item
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(tableName), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", tableName, err)
		}
		for _, av := range page.Items {
			items = append(items, decode(av))
		}
	}
	return check(items), nil
}

func decode(av map[string]types.AttributeValue) item {
	s := func(k string) string {
		if v, ok := av[k].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	it := item{pk: s(table.PartitionKey), sk: s(table.SortKey), typ: s("type"), id: s("id"), uid: s("uid"), gid: s("gid")}
	if v, ok := av["groups"].(*types.AttributeValueMemberSS); ok {
		it.groups = v.Value
	}
	if v, ok := av["n"].(*types.AttributeValueMemberN); ok {
		it.n, _ = strconv.Atoi(v.Value)
	}
	return it
}

// tenantOf returns the tenant of a key "T#{tenant}" or "T#{tenant}#…".
func tenantOf(pk string) string {
	t, ok := strings.CutPrefix(pk, "T#")
	if !ok {
		return ""
	}
	if i := strings.Index(t, "#"); i >= 0 {
		t = t[:i]
	}
	return t
}

type ref struct{ tenant, id string }

func check(items []item) *Result {
	res := &Result{Items: len(items)}
	users := map[ref]item{}
	groups := map[ref]bool{}
	members := map[[3]string]bool{} // tenant, gid, uid
	usersPerTenant := map[string]int{}
	groupsPerTenant := map[string]int{}
	for _, it := range items {
		t := tenantOf(it.pk)
		switch it.typ {
		case "user":
			users[ref{t, it.id}] = it
			usersPerTenant[t]++
			res.Users++
		case "group":
			groups[ref{t, it.id}] = true
			groupsPerTenant[t]++
			res.Groups++
		case "member":
			members[[3]string{t, it.gid, it.uid}] = true
			res.Memberships++
		}
	}
	add := func(kind string, it item, format string, args ...any) {
		res.Problems = append(res.Problems, Problem{Kind: kind, Key: it.pk + " / " + it.sk, Why: fmt.Sprintf(format, args...)})
	}
	for _, it := range items {
		t := tenantOf(it.pk)
		switch {
		case it.typ == "member":
			_, userOK := users[ref{t, it.uid}]
			switch {
			case !groups[ref{t, it.gid}] && !userOK:
				add("orphan membership", it, "neither group %s nor user %s exists", it.gid, it.uid)
			case !groups[ref{t, it.gid}]:
				add("orphan membership", it, "group %s does not exist", it.gid)
			case !userOK:
				add("orphan membership", it, "user %s does not exist", it.uid)
			}
		case it.typ == "userName":
			if _, ok := users[ref{t, it.id}]; !ok {
				add("orphan userName guard", it, "user %s does not exist", it.id)
			}
		case it.typ == "displayName":
			if !groups[ref{t, it.id}] {
				add("orphan displayName guard", it, "group %s does not exist", it.id)
			}
		case it.typ == "user":
			for _, gid := range it.groups {
				if !members[[3]string{t, gid, it.id}] {
					add("stale group id", it, "user %s lists group %s but is not a member of it", it.id, gid)
				}
			}
		case it.sk == "COUNT#U" && it.n != usersPerTenant[t]:
			add("wrong counter", it, "says %d users, the table holds %d", it.n, usersPerTenant[t])
		case it.sk == "COUNT#G" && it.n != groupsPerTenant[t]:
			add("wrong counter", it, "says %d groups, the table holds %d", it.n, groupsPerTenant[t])
		}
	}
	sort.Slice(res.Problems, func(i, j int) bool {
		a, b := res.Problems[i], res.Problems[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Key < b.Key
	})
	return res
}
