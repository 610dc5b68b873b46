// Command scimless is the operator CLI of scimless: it runs the whole service
// locally (dev), replays Lambda events through a function's handler (invoke),
// and manages tenants, tokens and the audit log on a local or deployed table.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: scimless <command> [flags]

commands:
  dev      run the service locally on an embedded DynamoDB-compatible engine
  invoke   run an API Gateway event (events/*.json) through a Lambda handler
  tenant   manage tenants (tenant create|list|show|suspend|resume|set)
  token    manage bearer tokens (token issue|list|revoke)
  schema   a tenant's custom schema extensions (schema set TENANT FILE.json|get|clear|check)
  audit    list a tenant's writes (audit TENANT [-since 24h] [-limit 100])
  xaas     Okta Anything-as-a-Source: a tenant's Okta org, profile mapping,
           syncs and their status (xaas config|mapping|sync|status)
  webhook  a tenant's webhooks for directory events (webhook add|list|remove|replay)
  events   print a tenant's directory events as they arrive (events tail TENANT)
  selftest check a deployment with the requests Okta and Entra ID send
           (selftest -url BASE -token T [-flows …] [-json] [-keep] [-load C -duration D])
  soak     the selftest load on the local stack, with a check of the final state
           and of the table (soak [-clients 8] [-duration 60s] [-- dev flags])

tenant, token, schema, audit, xaas, webhook and events work on a table: -table NAME (default "scimless"),
-region REGION, -dynamodb-endpoint URL (a local endpoint; without it AWS with
the standard credential chain).

Run "scimless <command> -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "dev":
		err = runDev(ctx, args[1:], stdout, stderr)
	case "invoke":
		err = runInvoke(ctx, args[1:], stdout, stderr)
	case "tenant":
		err = runTenant(ctx, args[1:], stdout, stderr)
	case "token":
		err = runToken(ctx, args[1:], stdout, stderr)
	case "audit":
		err = runAudit(ctx, args[1:], stdout, stderr)
	case "schema":
		err = runSchema(ctx, args[1:], stdout, stderr)
	case "xaas":
		err = runXaaS(ctx, args[1:], stdout, stderr)
	case "webhook":
		err = runWebhook(ctx, args[1:], stdout, stderr)
	case "events":
		err = runEvents(ctx, args[1:], stdout, stderr)
	case "selftest":
		err = runSelftest(ctx, args[1:], stdout, stderr)
	case "soak":
		err = runSoak(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "scimless: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if err == errUsage {
			return 2
		}
		fmt.Fprintln(stderr, "scimless:", err)
		return 1
	}
	return 0
}
