package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// A variant is one synthesized configuration of the app, shared by the
// tests (each synth costs seconds).
type variant struct {
	name string
	// ctx is the CDK context on top of cdk.json's.
	ctx map[string]any
	// fns are the function directories of the fixture repository.
	fns []Function
}

var (
	// devVariant is the dev stage as `cdk synth` ships it: cdk.json's
	// context and nothing more.
	devVariant = variant{
		name: "dev",
		ctx:  map[string]any{"stage": "dev"},
		fns:  KnownFunctions(),
	}
	// prodVariant is prod with every option set, as -c strings, and the
	// XaaS function present.
	prodVariant = variant{
		name: "prod",
		ctx: map[string]any{
			"stage":                  "prod",
			"throttleRate":           "20",
			"throttleBurst":          "40",
			"alarmEmail":             "ops@example.com",
			"domainName":             "scim.example.com",
			"certificateArn":         "arn:aws:acm:eu-west-1:111111111111:certificate/0000",
			"reservedConcurrency":    "50",
			"provisionedConcurrency": "2",
			"logRetentionDays":       "365",
			"logLevel":               "warn",
			"tokenCacheTtl":          "30s",
			"xaasSchedule":           "rate(5 minutes)",
			"xaasSecretPrefix":       "scimless/prod/okta/",
		},
		fns: KnownFunctions(),
	}
	variants = []variant{devVariant, prodVariant}
)

// synthesized is a variant's stack and template.
type synthesized struct {
	stack    *Stack
	template assertions.Template
	// json is the template as plain Go values.
	json map[string]any
	// outdir is the cloud assembly directory.
	outdir string
}

var (
	synthMu    sync.Mutex
	synthCache = map[string]*synthesized{}
	tempDirs   []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range tempDirs {
		os.RemoveAll(d)
	}
	jsii.Close()
	os.Exit(code)
}

// cdkJSONContext returns the "context" of the repository's cdk.json, so the
// tests see the feature flags that `cdk synth` sees.
func cdkJSONContext(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		App     string         `json:"app"`
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	return f.Context
}

// fixtureRoot makes a repository root holding a go.mod for RootModule and
// a trivial main package for each of fns.
func fixtureRoot(t testing.TB, dir string, fns []Function) string {
	t.Helper()
	write := func(name, body string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module "+RootModule+"\n\ngo 1.26\n")
	for _, fn := range fns {
		write(fn.Dir+"/main.go", "package main\n\nfunc main() { println(\""+fn.Name+"\") }\n")
	}
	return dir
}

// synth returns the variant's synthesized stack, defining it through
// Define (as main does) with placeholder code on first use.
func synth(t *testing.T, v variant) *synthesized {
	t.Helper()
	synthMu.Lock()
	defer synthMu.Unlock()
	if s, ok := synthCache[v.name]; ok {
		return s
	}
	ctx := cdkJSONContext(t)
	for k, val := range v.ctx {
		ctx[k] = val
	}
	// What the CDK CLI sets by default, and SAM relies on.
	ctx["aws:cdk:enable-asset-metadata"] = true
	ctx["aws:cdk:enable-path-metadata"] = true
	jctx := make(map[string]any, len(ctx))
	for k, val := range ctx {
		jctx[k] = val
	}
	dir, err := os.MkdirTemp("", "scimless-infra-test-")
	if err != nil {
		t.Fatal(err)
	}
	tempDirs = append(tempDirs, dir)
	root := fixtureRoot(t, filepath.Join(dir, "repo"), v.fns)
	outdir := filepath.Join(dir, "cdk.out")
	app := awscdk.NewApp(&awscdk.AppProps{Context: &jctx, Outdir: jsii.String(outdir)})
	stack, err := Define(app, root, PlaceholderBuilder{OutDir: filepath.Join(dir, "build")})
	if err != nil {
		t.Fatalf("%s: %v", v.name, err)
	}
	tpl := assertions.Template_FromStack(stack.Stack, nil)
	raw, err := json.Marshal(tpl.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	s := &synthesized{stack: stack, template: tpl, json: m, outdir: outdir}
	synthCache[v.name] = s
	return s
}

// resources returns the template's resources of a type, by logical id.
func (s *synthesized) resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.json["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

// resource returns one resource by logical id.
func (s *synthesized) resource(t *testing.T, id string) map[string]any {
	t.Helper()
	r, ok := s.json["Resources"].(map[string]any)[id]
	if !ok {
		t.Fatalf("no resource %q", id)
	}
	return r.(map[string]any)
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// ref is the template form of a Ref.
func ref(id string) map[string]any { return map[string]any{"Ref": id} }

// getAtt is the template form of Fn::GetAtt.
func getAtt(id, attr string) map[string]any { return map[string]any{"Fn::GetAtt": []any{id, attr}} }

// logicalIDOf returns the logical id that a Ref or Fn::GetAtt points at.
func logicalIDOf(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if r, ok := m["Ref"].(string); ok {
		return r
	}
	if g, ok := m["Fn::GetAtt"].([]any); ok && len(g) > 0 {
		s, _ := g[0].(string)
		return s
	}
	return ""
}

// canon renders a value as canonical JSON for comparisons.
func canon(v any) string {
	b, _ := json.Marshal(normalize(v))
	return string(b)
}

// normalize turns a single string Action/Resource into a one-element list
// and sorts string lists, so that equal policies compare equal.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if s, ok := x.(string); ok && (k == "Action" || k == "Resource") {
				x = []any{s}
			}
			out[k] = normalize(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		allStrings := true
		for i, x := range v {
			out[i] = normalize(x)
			if _, ok := x.(string); !ok {
				allStrings = false
			}
		}
		if allStrings {
			sort.Slice(out, func(i, j int) bool { return out[i].(string) < out[j].(string) })
		}
		return out
	default:
		return v
	}
}

func sortedStrings(v []string) []string {
	out := append([]string(nil), v...)
	sort.Strings(out)
	return out
}

func equalJSON(a, b any) bool { return reflect.DeepEqual(normalize(a), normalize(b)) }

// jsonStrings decodes a template value that is a list of strings.
func jsonStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func hasPrefixAny(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
