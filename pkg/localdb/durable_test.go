package localdb_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/scimless/scimless/pkg/localdb"
	"github.com/scimless/scimless/pkg/store"
	"github.com/scimless/scimless/pkg/table"
)

func openDurable(t testing.TB, dir string) *testEnv {
	t.Helper()
	eng, err := localdb.StartWith(localdb.Options{Dir: dir})
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	return clients(eng)
}

func TestDurableRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e := openDurable(t, dir)
	c, err := store.NewClient(ctx, store.ClientConfig{Endpoint: e.eng.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTable(ctx, c, "dur"); err != nil {
		t.Fatal(err)
	}
	// The store's table has its NEW_AND_OLD_IMAGES stream from the start.
	if _, err := e.db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String("dur"),
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}}); err == nil || !strings.Contains(err.Error(), "already has an enabled stream") {
		t.Fatalf("enable the stream again: %v, want the ValidationException of a table that has one", err)
	}
	for i := range 20 {
		e.put(t, "dur", av{"pk": s("p"), "sk": s(fmt.Sprintf("%02d", i)), "n": n(strconv.Itoa(i)), "gsi1pk": s("X"), "gsi1sk": s(fmt.Sprint(i))})
	}
	if _, err := e.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("dur"), Key: av{"pk": s("p"), "sk": s("00")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Update: &types.Update{TableName: aws.String("dur"), Key: av{"pk": s("p"), "sk": s("01")}, UpdateExpression: aws.String("SET n = n + :d REMOVE gsi1pk"), ExpressionAttributeValues: av{":d": n("100")}}},
		{Put: &types.Put{TableName: aws.String("dur"), Item: av{"pk": s("q"), "sk": s("x")}}},
	}}); err != nil {
		t.Fatal(err)
	}
	arn := e.eng.StreamARN("dur")
	before, err := e.eng.StreamRecords("dur", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Close(); err != nil {
		t.Fatal(err)
	}
	check := func(e *testEnv, stage string) {
		t.Helper()
		if got := count(t, e, "dur"); got != 20 {
			t.Fatalf("%s: %d items, want 20", stage, got)
		}
		it := e.get(t, "dur", av{"pk": s("p"), "sk": s("01")})
		if it["n"].(*types.AttributeValueMemberN).Value != "101" || it["gsi1pk"] != nil {
			t.Fatalf("%s: transaction lost: %v", stage, it)
		}
		q, err := e.db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String("dur"), IndexName: aws.String(table.ByExternalID),
			KeyConditionExpression: aws.String("gsi1pk = :x"), ExpressionAttributeValues: av{":x": s("X")}})
		if err != nil || q.Count != 18 {
			t.Fatalf("%s: index holds %d, want 18 (%v)", stage, q.Count, err)
		}
		ttl, err := e.db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("dur")})
		if err != nil || ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
			t.Fatalf("%s: TTL setting lost: %+v %v", stage, ttl, err)
		}
		if got := e.eng.StreamARN("dur"); got != arn {
			t.Fatalf("%s: stream %q, want %q", stage, got, arn)
		}
	}
	e2 := openDurable(t, dir)
	check(e2, "after restart")
	after, err := e2.eng.StreamRecords("dur", "", 1000)
	if err != nil || len(after.Records) != len(before.Records) {
		t.Fatalf("stream after restart: %d records, want %d (%v)", len(after.Records), len(before.Records), err)
	}
	// A snapshot, more writes, another restart.
	if err := e2.eng.Compact(); err != nil {
		t.Fatal(err)
	}
	e2.put(t, "dur", av{"pk": s("p"), "sk": s("00"), "n": n("0"), "gsi1pk": s("X"), "gsi1sk": s("0")})
	if _, err := e2.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String("dur"), Key: av{"pk": s("p"), "sk": s("00")}}); err != nil {
		t.Fatal(err)
	}
	if err := e2.eng.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "snapshot-*"))
	if len(files) != 1 {
		t.Fatalf("snapshots %v, want one", files)
	}
	e3 := openDurable(t, dir)
	check(e3, "after snapshot and restart")
	_ = e3.eng.Close()
	// A second engine on the same directory is refused while one runs.
	e4 := openDurable(t, dir)
	defer e4.eng.Close()
	if _, err := localdb.StartWith(localdb.Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second engine on one directory: %v", err)
	}
}

// TestTornTail cuts the log at every byte of its last record (and flips a
// byte in it): the store always opens, with every earlier write and without
// the torn one.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	e := openDurable(t, dir)
	e.createTable(t, "torn", "S")
	for i := range 5 {
		e.put(t, "torn", av{"pk": s("p"), "sk": s(fmt.Sprint(i)), "v": s(strings.Repeat("v", i))})
	}
	logPath := filepath.Join(dir, "log-0")
	st, err := os.Stat(logPath)
	if err != nil {
		t.Fatal(err)
	}
	sizeBefore := st.Size()
	e.put(t, "torn", av{"pk": s("p"), "sk": s("last"), "v": s("the last write")})
	if err := e.eng.Close(); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string][]byte{}
	for cut := sizeBefore; cut < int64(len(full)); cut++ {
		variants[fmt.Sprint("cut at ", cut)] = full[:cut]
	}
	for _, at := range []int64{sizeBefore + 2, sizeBefore + 6, sizeBefore + 12, int64(len(full)) - 1} {
		flipped := append([]byte(nil), full...)
		flipped[at] ^= 0x40
		variants[fmt.Sprint("flip at ", at)] = flipped
	}
	variants["intact"] = full
	for name, data := range variants {
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, "log-0"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		eng, err := localdb.Open(localdb.Options{Dir: d})
		if err != nil {
			t.Fatalf("%s: store does not open: %v", name, err)
		}
		ev := clientsInProcess(t, eng)
		got := count(t, ev, "torn")
		want := int32(5)
		if name == "intact" {
			want = 6
		}
		if got != want {
			t.Fatalf("%s: %d items, want %d", name, got, want)
		}
		// The engine appends after the cut.
		ev.put(t, "torn", av{"pk": s("p"), "sk": s("after")})
		_ = eng.Close()
		eng, err = localdb.Open(localdb.Options{Dir: d})
		if err != nil {
			t.Fatalf("%s: reopen: %v", name, err)
		}
		if got := count(t, clientsInProcess(t, eng), "torn"); got != want+1 {
			t.Fatalf("%s: after append and reopen %d items, want %d", name, got, want+1)
		}
		_ = eng.Close()
	}
}

// clientsInProcess talks to an engine without a listener.
func clientsInProcess(t testing.TB, eng *localdb.Engine) *testEnv {
	t.Helper()
	e := clients(eng)
	hc := &httpClient{rt: eng.RoundTripper()}
	e.db = dynamodb.New(dynamodb.Options{BaseEndpoint: aws.String("http://localdb.invalid"), Region: "us-east-1", Credentials: credsLocal(), RetryMaxAttempts: 1, HTTPClient: hc})
	return e
}

const childEnv = "LOCALDB_KILL_CHILD_DIR"

// TestMain lets the test binary act as the writer the kill test kills.
func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(killChild(dir))
	}
	os.Exit(m.Run())
}

// killChild writes items 0, 1, 2, … and prints each number once its write
// is acknowledged, until it is killed.
func killChild(dir string) int {
	eng, err := localdb.StartWith(localdb.Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	e := clients(eng)
	ctx := context.Background()
	_, err = e.db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("kill"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}}, BillingMode: types.BillingModePayPerRequest})
	if c, _ := apiErr(err); err != nil && c != "ResourceInUseException" {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	start := 0
	if v := os.Getenv("LOCALDB_KILL_START"); v != "" {
		start, _ = strconv.Atoi(v)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := start; ; i++ {
		_, err := e.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String("kill"), Item: av{"pk": s(fmt.Sprint("a", i)), "pad": s(strings.Repeat("p", i%3000))}}},
			{Put: &types.Put{TableName: aws.String("kill"), Item: av{"pk": s(fmt.Sprint("b", i))}}},
		}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintln(w, i)
		w.Flush()
	}
}

// TestKill9 kills a writing process with SIGKILL at arbitrary moments:
// every acknowledged write survives, both halves of each transaction
// together, and the store always opens.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	next := 0
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir, fmt.Sprint("LOCALDB_KILL_START=", next))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := -1
		sc := bufio.NewScanner(out)
		deadline := time.Now().Add(time.Duration(150+round*100) * time.Millisecond)
		for sc.Scan() {
			acked, _ = strconv.Atoi(sc.Text())
			if time.Now().After(deadline) && acked >= next+20 {
				break
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		// Drain what the child acknowledged before it died.
		rest, _ := io.ReadAll(out)
		for _, l := range strings.Fields(string(rest)) {
			if v, err := strconv.Atoi(l); err == nil {
				acked = v
			}
		}
		_ = cmd.Wait()
		if acked < 0 {
			t.Fatalf("round %d: child acknowledged nothing: %s", round, stderr.String())
		}
		eng, err := localdb.Open(localdb.Options{Dir: dir})
		if err != nil {
			t.Fatalf("round %d: store does not open after kill -9: %v", round, err)
		}
		e := clientsInProcess(t, eng)
		for i := 0; i <= acked; i++ {
			a := e.get(t, "kill", av{"pk": s(fmt.Sprint("a", i))})
			bb := e.get(t, "kill", av{"pk": s(fmt.Sprint("b", i))})
			if a == nil || bb == nil {
				t.Fatalf("round %d: acknowledged write %d lost (a %v, b %v)", round, i, a != nil, bb != nil)
			}
		}
		total := count(t, e, "kill")
		if total%2 != 0 {
			t.Fatalf("round %d: %d items: half a transaction survived", round, total)
		}
		t.Logf("round %d: killed after %d acknowledged transactions; %d items on reopen", round, acked+1, total)
		next = int(total / 2)
		_ = eng.Close()
	}
}

// TestCompactWhileWriting snapshots repeatedly while writers run; after a
// restart every acknowledged write is there.
func TestCompactWhileWriting(t *testing.T) {
	dir := t.TempDir()
	e := openDurable(t, dir)
	e.createTable(t, "cmp", "S")
	const writers, each = 4, 150
	done := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				_, err := e.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String("cmp"),
					Item: av{"pk": s(fmt.Sprint("w", w)), "sk": s(fmt.Sprintf("%04d", i)), "v": n(strconv.Itoa(i))}})
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	finished := 0
	for finished < writers {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished++
		default:
			if err := e.eng.Compact(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := e.eng.Close(); err != nil {
		t.Fatal(err)
	}
	e2 := openDurable(t, dir)
	defer e2.eng.Close()
	if got := count(t, e2, "cmp"); got != writers*each {
		t.Fatalf("%d items after restart, want %d", got, writers*each)
	}
}

// TestDurableLargeCommit: a transaction of large items whose JSON is far
// bigger than the items (escaped control characters) replays intact.
func TestDurableLargeCommit(t *testing.T) {
	dir := t.TempDir()
	e := openDurable(t, dir)
	e.createTable(t, "large", "S")
	var items []types.TransactWriteItem
	for i := range 5 {
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String("large"),
			Item: av{"pk": s("p"), "sk": s(fmt.Sprint(i)), "d": s(strings.Repeat("\x01", 390*1024))}}})
	}
	if _, err := e.db.TransactWriteItems(context.Background(), &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Close(); err != nil {
		t.Fatal(err)
	}
	e2 := openDurable(t, dir)
	defer e2.eng.Close()
	if got := count(t, e2, "large"); got != 5 {
		t.Fatalf("%d items after restart, want 5", got)
	}
	if err := e2.eng.Compact(); err != nil { // a snapshot of large items reloads too
		t.Fatal(err)
	}
	_ = e2.eng.Close()
	e2 = openDurable(t, dir)
	defer e2.eng.Close()
	if d := e2.get(t, "large", av{"pk": s("p"), "sk": s("4")})["d"].(*types.AttributeValueMemberS).Value; d != strings.Repeat("\x01", 390*1024) {
		t.Fatal("large item changed")
	}
}
