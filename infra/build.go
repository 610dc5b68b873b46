package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// RootModule is the module path of the service, whose go.mod marks the
// repository root.
const RootModule = "github.com/scimless/scimless"

// Function is one Lambda function: a main package of the root module.
type Function struct {
	// Name is the short name ("scim", "xaas"); it prefixes construct ids.
	Name string
	// Dir is the package directory relative to the repository root,
	// slash-separated ("functions/scim").
	Dir string
}

// Known functions, in stack order. Every one ships in every stage.
var (
	ScimFunction = Function{Name: "scim", Dir: "functions/scim"}
	XaasFunction = Function{Name: "xaas", Dir: "functions/xaas"}
	// EventsFunction consumes the table's stream into directory events.
	EventsFunction = Function{Name: "events", Dir: "functions/events"}
	// WebhooksFunction delivers the events to the tenants' webhooks.
	WebhooksFunction = Function{Name: "webhooks", Dir: "functions/webhooks"}
)

// KnownFunctions lists every function the stack can deploy.
func KnownFunctions() []Function {
	return []Function{ScimFunction, XaasFunction, EventsFunction, WebhooksFunction}
}

// FindRepoRoot walks up from start to the directory whose go.mod declares
// RootModule.
func FindRepoRoot(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	for {
		if modulePath(filepath.Join(dir, "go.mod")) == RootModule {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod declaring module %s in %s or its parents", RootModule, start)
		}
		dir = parent
	}
}

// modulePath returns the module path declared by the go.mod file at path,
// or "" if there is none.
func modulePath(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// DiscoverFunctions returns the known functions, after checking that each
// one's package directory under root holds Go source.
func DiscoverFunctions(root string) ([]Function, error) {
	var found []Function
	for _, fn := range KnownFunctions() {
		ok, err := hasGoSource(filepath.Join(root, filepath.FromSlash(fn.Dir)))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%s: no Go source in %s; the %s function is required",
				fn.Name, filepath.Join(root, filepath.FromSlash(fn.Dir)), fn.Name)
		}
		found = append(found, fn)
	}
	return found, nil
}

// hasGoSource reports whether dir exists and holds a non-test .go file.
func hasGoSource(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			return true, nil
		}
	}
	return false, nil
}

// GoBuilder cross-compiles function packages into Lambda "bootstrap"
// executables for the provided.al2023 runtime on arm64.
type GoBuilder struct {
	// Root is the repository root (the root module's directory).
	Root string
	// OutDir receives one sub-directory per function, holding only
	// "bootstrap"; that directory is the Lambda asset.
	OutDir string
	// Go is the go command; "go" if empty.
	Go string
}

// BuildArgs returns the arguments of `go build` for fn writing to out.
// The flags make the binary small and reproducible: the same source gives
// the same bytes, hence the same asset hash, so an unchanged function is
// not redeployed.
func BuildArgs(fn Function, out string) []string {
	return []string{
		"build",
		"-tags", "lambda.norpc", // provided.al2023 speaks the Runtime API, not net/rpc
		"-trimpath",
		"-buildvcs=false",
		"-ldflags=-s -w",
		"-o", out,
		"./" + fn.Dir,
	}
}

// BuildEnv is the environment added to the caller's for a Lambda build.
var BuildEnv = []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}

// Build compiles fn and returns the directory that holds its bootstrap.
func (b GoBuilder) Build(fn Function) (string, error) {
	dir := filepath.Join(b.OutDir, fn.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	goCmd := b.Go
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.Command(goCmd, BuildArgs(fn, filepath.Join(dir, "bootstrap"))...)
	cmd.Dir = b.Root
	cmd.Env = append(os.Environ(), BuildEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building %s: %v\n%s", fn.Dir, err, out)
	}
	return dir, nil
}

// PlaceholderBuilder writes a tiny stand-in bootstrap instead of compiling.
// Tests use it to check the template without a cross-compile; the result
// must never be deployed.
type PlaceholderBuilder struct {
	// OutDir receives one sub-directory per function.
	OutDir string
}

// Build writes OutDir/<name>/bootstrap and returns its directory.
func (b PlaceholderBuilder) Build(fn Function) (string, error) {
	dir := filepath.Join(b.OutDir, fn.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	body := "#!/bin/sh\necho 'placeholder for " + fn.Dir + ": not deployable' >&2\nexit 1\n"
	return dir, os.WriteFile(filepath.Join(dir, "bootstrap"), []byte(body), 0o755)
}
