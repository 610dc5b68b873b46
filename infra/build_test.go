package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFindRepoRoot(t *testing.T) {
	root := fixtureRoot(t, t.TempDir(), nil)
	nested := filepath.Join(root, "infra", "deep")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	// A nested module (like infra/) is skipped over.
	if err := os.WriteFile(filepath.Join(root, "infra", "go.mod"), []byte("module "+RootModule+"/infra\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, start := range []string{root, filepath.Join(root, "infra"), nested} {
		got, err := FindRepoRoot(start)
		if err != nil || got != root {
			t.Errorf("FindRepoRoot(%s) = %q, %v; want %q", start, got, err, root)
		}
	}
	if got, err := FindRepoRoot(t.TempDir()); err == nil {
		t.Errorf("FindRepoRoot outside a repository = %q, want an error", got)
	}
	// The real repository: infra/ lives in it.
	if got, err := FindRepoRoot("."); err != nil || modulePath(filepath.Join(got, "go.mod")) != RootModule {
		t.Errorf("FindRepoRoot(.) = %q, %v", got, err)
	}
}

func TestDiscoverFunctions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		present []Function
		extra   map[string]string // more files: path → content
		want    []string
		wantErr string
	}{
		{name: "all", present: KnownFunctions(), want: []string{"scim", "xaas", "events", "webhooks"}},
		{name: "xaas missing", present: []Function{ScimFunction, EventsFunction, WebhooksFunction}, wantErr: "the xaas function is required"},
		{name: "xaas without Go source", present: []Function{ScimFunction, EventsFunction, WebhooksFunction},
			extra: map[string]string{"functions/xaas/README.md": "notes", "functions/xaas/x_test.go": "package main"}, wantErr: "the xaas function is required"},
		{name: "scim missing", present: []Function{XaasFunction, EventsFunction, WebhooksFunction}, wantErr: "the scim function is required"},
		{name: "events missing", present: []Function{ScimFunction, XaasFunction, WebhooksFunction}, wantErr: "the events function is required"},
		{name: "webhooks missing", present: []Function{ScimFunction, XaasFunction, EventsFunction}, wantErr: "the webhooks function is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := fixtureRoot(t, t.TempDir(), tc.present)
			for p, body := range tc.extra {
				full := filepath.Join(root, filepath.FromSlash(p))
				os.MkdirAll(filepath.Dir(full), 0o755)
				if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fns, err := DiscoverFunctions(root)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fns {
				got = append(got, f.Name)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("functions = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBuildArgs(t *testing.T) {
	got := strings.Join(BuildArgs(ScimFunction, "/out/bootstrap"), " ")
	want := "build -tags lambda.norpc -trimpath -buildvcs=false -ldflags=-s -w -o /out/bootstrap ./functions/scim"
	if got != want {
		t.Errorf("go %s\nwant go %s", got, want)
	}
	if env := strings.Join(BuildEnv, " "); env != "GOOS=linux GOARCH=arm64 CGO_ENABLED=0" {
		t.Errorf("BuildEnv = %s", env)
	}
}

// TestGoBuilder runs the real cross-compile that synth runs, on a fixture
// module, and checks the result is a static linux/arm64 executable named
// bootstrap. Cold, it compiles the standard library for arm64 (~20 s on
// two cores); -short skips it.
func TestGoBuilder(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles; skipped with -short")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	root := fixtureRoot(t, t.TempDir(), []Function{ScimFunction})
	dir, err := GoBuilder{Root: root, OutDir: t.TempDir()}.Build(ScimFunction)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "bootstrap" {
		t.Fatalf("asset dir holds %v (%v), want only bootstrap", entries, err)
	}
	f, err := elf.Open(filepath.Join(dir, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		t.Errorf("bootstrap is %v/%v, want linux arm64", f.Machine, f.OSABI)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("bootstrap is dynamically linked; want CGO_ENABLED=0")
		}
	}
	if f.Section(".symtab") != nil {
		t.Error("bootstrap has a symbol table; want -ldflags=-s")
	}

	// A broken package fails the build with the compiler's message.
	if err := os.WriteFile(filepath.Join(root, "functions", "scim", "main.go"), []byte("package main\nfunc main() { undefined() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (GoBuilder{Root: root, OutDir: t.TempDir()}).Build(ScimFunction); err == nil || !strings.Contains(err.Error(), "undefined") {
		t.Errorf("broken build: err = %v", err)
	}
}

func TestPlaceholderBuilder(t *testing.T) {
	dir, err := PlaceholderBuilder{OutDir: t.TempDir()}.Build(XaasFunction)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
	if err != nil || !strings.Contains(string(b), "not deployable") {
		t.Errorf("placeholder = %q, %v", b, err)
	}
}
