// Command infra is the scimless CDK app: `npx aws-cdk@2.1034.0 synth` (or
// deploy) from the repository root runs it through cdk.json.
//
// It synthesizes one stack per stage (-c stage=dev|prod → Scimless-dev,
// Scimless-prod): the DynamoDB table defined by package
// github.com/scimless/scimless/pkg/table, the Lambda functions built from
// ./functions/* with the local Go toolchain during synth, the HTTP API,
// directory events (stream consumer, webhook queue and bus), alarms, a
// dashboard and outputs. cdk-nag's AwsSolutions checks run on
// every synth.
//
// infra is a Go module of its own (github.com/scimless/scimless/infra,
// with a replace directive pointing at the root module) so that the AWS
// CDK, its jsii runtime and cdk-nag — about 126 MB of modules, a 90 MB
// binary and ~42 s of cold compile on two cores — never enter the service
// module's go.mod, its Lambda binaries or the time of `go test ./...` at
// the root. Only package table crosses over, and it has no dependencies.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "scimless infra:", err)
		jsii.Close()
		os.Exit(1)
	}
	jsii.Close()
}

func run() error {
	outdir, err := absOutdir()
	if err != nil {
		return err
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: outdir})
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := FindRepoRoot(wd)
	if err != nil {
		return err
	}
	// The bootstraps are built into a temporary directory; CDK copies each
	// into cdk.out/asset.<hash>/ when the function is defined, which is
	// what deploy uploads and what `sam local invoke` reads.
	tmp, err := os.MkdirTemp("", "scimless-lambda-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if _, err := Define(app, root, &loggingBuilder{GoBuilder{Root: root, OutDir: tmp}}); err != nil {
		return err
	}
	app.Synth(nil)
	return nil
}

// Define adds the stack to app as its context describes (see LoadConfig),
// with the functions found under the repository root and cdk-nag's
// checks. The tests call it with a placeholder Builder.
func Define(app awscdk.App, root string, b Builder) (*Stack, error) {
	cfg, err := LoadConfig(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) })
	if err != nil {
		return nil, err
	}
	fns, err := DiscoverFunctions(root)
	if err != nil {
		return nil, err
	}
	s, err := NewStack(app, &StackProps{Config: cfg, Functions: fns, Builder: b})
	if err != nil {
		return nil, err
	}
	AddNagChecks(app)
	return s, nil
}

// absOutdir returns CDK_OUTDIR made absolute, or nil if it is unset (the
// App then picks a temporary directory). The CDK CLI passes it relative to
// its own working directory, the one holding cdk.json, but cdk.json runs
// the app with `cd infra`: left relative, cdk.out would land inside infra/
// where the CLI does not look.
func absOutdir() (*string, error) {
	out := os.Getenv(outdirEnv)
	if out == "" || filepath.IsAbs(out) {
		return nil, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	dir, err := findUp(wd, "cdk.json")
	if err != nil {
		return nil, err
	}
	return jsii.String(filepath.Join(dir, out)), nil
}

// outdirEnv is where the CDK CLI tells the app to write the cloud assembly.
const outdirEnv = "CDK_OUTDIR"

// findUp returns the first of dir and its parents that holds name.
func findUp(dir, name string) (string, error) {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, name)); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no %s in %s or its parents", name, dir)
		}
		d = parent
	}
}

// loggingBuilder reports each build on stderr, which the CDK CLI shows.
type loggingBuilder struct{ GoBuilder }

func (b *loggingBuilder) Build(fn Function) (string, error) {
	start := time.Now()
	dir, err := b.GoBuilder.Build(fn)
	if err == nil {
		fmt.Fprintf(os.Stderr, "built ./%s for linux/arm64 in %.1fs\n", fn.Dir, time.Since(start).Seconds())
	}
	return dir, err
}
