package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/scimless/scimless/pkg/scim/schema"
	"github.com/scimless/scimless/pkg/store"
)

const schemaUsage = `usage: scimless schema set TENANT FILE.json [table flags]
       scimless schema get TENANT [table flags]
       scimless schema clear TENANT [table flags]
       scimless schema check FILE.json

set    validates FILE.json and stores its schemas as the tenant's custom schema
       extensions, replacing the earlier ones ("-" reads standard input). A
       problem in the file is reported as FILE:LINE: reason and nothing is stored.
get    prints the tenant's extensions as stored: the file format with every
       default spelled out (a valid FILE.json for set)
clear  removes the tenant's extensions
check  validates FILE.json without a table

FILE.json is {"schemas": [ ... ]}; each schema has an "id" (its URN), a "name",
a "resourceType" ("User" or "Group"), "required" (whether resources must carry
it) and "attributes" as RFC 7643 §7 declares them. See examples/schemas/.

` + tableFlagsUsage

func runSchema(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, schemaUsage)
		return errUsage
	}
	switch args[0] {
	case "set":
		return runSchemaSet(ctx, args[1:], stdout, stderr)
	case "get":
		return runSchemaGet(ctx, args[1:], stdout, stderr)
	case "clear":
		return runSchemaClear(ctx, args[1:], stdout, stderr)
	case "check":
		return runSchemaCheck(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, schemaUsage)
		return nil
	}
	fmt.Fprintf(stderr, "scimless schema: unknown subcommand %q\n\n%s", args[0], schemaUsage)
	return errUsage
}

// readSchemaFile reads and validates an extension file ("-": standard
// input). A problem in the file comes back as "FILE:LINE: reason".
func readSchemaFile(path string) ([]schema.ExtensionSchema, error) {
	var r io.Reader
	name := path
	if path == "-" {
		r, name = os.Stdin, "<stdin>"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	// One byte over the limit is enough for the parser to refuse the size.
	data, err := io.ReadAll(io.LimitReader(r, schema.MaxExtensionFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > schema.MaxExtensionFileSize {
		return nil, fmt.Errorf("%s:1: the file is over the %d KB limit", name, schema.MaxExtensionFileSize>>10)
	}
	list, err := schema.ParseExtensionFile(data)
	var fe *schema.FileError
	if errors.As(err, &fe) {
		return nil, fmt.Errorf("%s:%d: %s", name, fe.Line, fe.Reason)
	}
	return list, err
}

// printSchemaSummary prints each schema's URN, resource type and attribute
// count.
func printSchemaSummary(w io.Writer, list []schema.ExtensionSchema) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "URN\tRESOURCE TYPE\tREQUIRED\tATTRIBUTES")
	for _, s := range list {
		subs := 0
		for _, a := range s.Attributes {
			subs += len(a.SubAttributes)
		}
		count := fmt.Sprint(len(s.Attributes))
		if subs > 0 {
			count += fmt.Sprintf(" (+%d sub-attributes)", subs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%t\t%s\n", s.ID, s.ResourceType, s.Required, count)
	}
	return tw.Flush()
}

func runSchemaCheck(args []string, stdout, stderr io.Writer) error {
	c := newCommand("schema check", schemaUsage, stderr)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	list, err := readSchemaFile(c.args[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: valid, %d schema extension(s)\n", c.args[0], len(list))
	return printSchemaSummary(stdout, list)
}

func runSchemaSet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("schema set", schemaUsage, stderr)
	if err := c.parse(args, 2, 2); err != nil {
		return err
	}
	tenant, path := c.args[0], c.args[1]
	if err := validTenantArg(tenant); err != nil {
		return err
	}
	list, err := readSchemaFile(path)
	if err != nil {
		return err
	}
	doc, err := schema.MarshalExtensionFile(list)
	if err != nil {
		return err
	}
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Store.GetTenant(ctx, tenant); err != nil {
		return tenantError(tenant, err)
	}
	if err := db.Store.PutSchemas(ctx, tenant, doc); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "stored %d schema extension(s) for tenant %s:\n", len(list), tenant)
	return printSchemaSummary(stdout, list)
}

func runSchemaGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("schema get", schemaUsage, stderr)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	tenant := c.args[0]
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Store.GetTenant(ctx, tenant); err != nil {
		return tenantError(tenant, err)
	}
	doc, err := db.Store.GetSchemas(ctx, tenant)
	if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(stderr, "tenant %s has no schema extensions (declare some with: scimless schema set %s FILE.json)\n", tenant, tenant)
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := schema.ParseExtensionFile(doc); err != nil {
		fmt.Fprintf(stderr, "warning: the stored schemas do not pass this version's validation: %v\n", err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, doc, "", "  "); err != nil {
		pretty.Reset()
		pretty.Write(doc)
	}
	pretty.WriteByte('\n')
	_, err = stdout.Write(pretty.Bytes())
	return err
}

func runSchemaClear(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := newCommand("schema clear", schemaUsage, stderr)
	if err := c.parse(args, 1, 1); err != nil {
		return err
	}
	tenant := c.args[0]
	db, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Store.GetTenant(ctx, tenant); err != nil {
		return tenantError(tenant, err)
	}
	if _, err := db.Store.GetSchemas(ctx, tenant); errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(stdout, "tenant %s has no schema extensions\n", tenant)
		return nil
	} else if err != nil {
		return err
	}
	if err := db.Store.DeleteSchemas(ctx, tenant); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "cleared the schema extensions of tenant %s\n", tenant)
	return nil
}
