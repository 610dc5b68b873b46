package tablecheck

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/store/storetest"
	"github.com/scimless/scimless/pkg/table"
)

func TestCheck(t *testing.T) {
	env := storetest.New(t)
	ctx := context.Background()
	now := time.Now()
	for _, id := range []string{"u1", "u2", "u3"} {
		if err := env.Store.CreateUser(ctx, "acme", &store.User{ID: id, UserName: id + "@example.com", Active: true, Doc: []byte(`{}`), Created: now, Modified: now}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"g1", "g2"} {
		if err := env.Store.CreateGroup(ctx, "acme", &store.Group{ID: id, DisplayName: id, Doc: []byte(`{}`), Created: now, Modified: now}); err != nil {
			t.Fatal(err)
		}
	}
	for _, gid := range []string{"g1", "g2"} {
		if _, err := env.Store.AddMembers(ctx, "acme", gid, 0, []store.Member{{UserID: "u1"}, {UserID: "u2"}}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Check(ctx, env.Client, table.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 0 || res.Users != 3 || res.Groups != 2 || res.Memberships != 4 {
		t.Fatalf("a consistent table: %+v", res)
	}

	// Delete items behind the store's back, as a crash or a race would
	// leave them.
	del := func(pk, sk string) {
		t.Helper()
		_, err := env.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table.DefaultName), Key: map[string]types.AttributeValue{
			table.PartitionKey: &types.AttributeValueMemberS{Value: pk}, table.SortKey: &types.AttributeValueMemberS{Value: sk}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	del("T#acme", "G#g2") // group gone: its memberships, guard and counter are left
	del("T#acme", "U#u3") // user gone: its guard and counter are left
	res, err = Check(ctx, env.Client, table.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Problems {
		got = append(got, p.String())
	}
	want := []string{
		"orphan displayName guard T#acme / GN#g2: group g2 does not exist",
		"orphan membership T#acme#G#g2 / M#u1: group g2 does not exist",
		"orphan membership T#acme#G#g2 / M#u2: group g2 does not exist",
		"orphan userName guard T#acme / UN#u3@example.com: user u3 does not exist",
		"wrong counter T#acme / COUNT#G: says 2 groups, the table holds 1",
		"wrong counter T#acme / COUNT#U: says 3 users, the table holds 2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
