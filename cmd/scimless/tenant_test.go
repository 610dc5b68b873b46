package main

import (
	"context"
	"testing"

	"github.com/scimless/scimless/pkg/store"
)

func TestTenantCLI(t *testing.T) {
	ep, st := opTable(t)
	opRun(t, ep, []opStep{
		{args: []string{"tenant"}, code: 2, stderr: []string{"usage: scimless tenant create NAME"}},
		{args: []string{"tenant", "frob"}, code: 2, stderr: []string{`unknown subcommand "frob"`}},
		{args: []string{"tenant", "list"}, code: 0, stdout: []string{"no tenants"}},
		{args: []string{"tenant", "create", "acme", "-display", "Acme Inc"}, code: 0,
			stdout: []string{"created tenant acme", "scimless token issue acme"}},
		{args: []string{"tenant", "create", "-display", "Globex", "globex"}, code: 0},
		{args: []string{"tenant", "create", "acme"}, code: 1, stderr: []string{`tenant "acme" already exists`}},
		{args: []string{"tenant", "create", "a/b"}, code: 1, stderr: []string{`invalid tenant name "a/b"`}},
		{args: []string{"tenant", "create"}, code: 2, stderr: []string{"usage: scimless tenant"}},
		{args: []string{"tenant", "create", "x", "y"}, code: 2, stderr: []string{`unexpected argument "y"`}},
		{args: []string{"tenant", "create", "x", "-nope"}, code: 2, stderr: []string{"flag provided but not defined: -nope"}},
		{args: []string{"tenant", "list"}, code: 0, stdout: []string{"NAME", "acme", "active", "Acme Inc", "globex", "Globex"}},
		{args: []string{"tenant", "list", "extra"}, code: 2, stderr: []string{`unexpected argument "extra"`}},
		{args: []string{"tenant", "show", "acme"}, code: 0,
			stdout: []string{"tenant:   acme", "display:  Acme Inc", "status:   active", "tokens:   0", "(none: defaults)"}},
		{args: []string{"tenant", "show", "nobody"}, code: 1, stderr: []string{`unknown tenant "nobody"`}},
		{args: []string{"tenant", "set", "acme", "auditTTLDays=30", "passwordSync=true"}, code: 0,
			stdout: []string{"  auditTTLDays=30", "  passwordSync=true"}},
		{args: []string{"tenant", "set", "acme", "auditTTLDays=0"}, code: 1, stderr: []string{"positive number of days"}},
		{args: []string{"tenant", "set", "acme", "passwordSync=yes"}, code: 1, stderr: []string{"want true or false"}},
		{args: []string{"tenant", "set", "acme", "rateLimit=-1"}, code: 1, stderr: []string{"≥ 0"}},
		{args: []string{"tenant", "set", "acme", "colour=blue"}, code: 1, stderr: []string{`unknown setting "colour"`, "auditTTLDays"}},
		{args: []string{"tenant", "set", "acme", "auditTTLDays"}, code: 1, stderr: []string{"want KEY=VALUE"}},
		{args: []string{"tenant", "set", "acme"}, code: 2, stderr: []string{"usage: scimless tenant"}},
		{args: []string{"tenant", "set", "nobody", "rateLimit=5"}, code: 1, stderr: []string{`unknown tenant "nobody"`}},
		{args: []string{"tenant", "set", "acme", "auditTTLDays=", "rateLimit=20"}, code: 0,
			stdout: []string{"  passwordSync=true", "  rateLimit=20"}, absent: []string{"auditTTLDays"}},
		{args: []string{"tenant", "suspend", "acme"}, code: 0, stdout: []string{"suspended tenant acme"}},
		{args: []string{"tenant", "suspend", "acme"}, code: 0, stdout: []string{"tenant acme is already suspended"}},
		{args: []string{"tenant", "suspend", "nobody"}, code: 1, stderr: []string{`unknown tenant "nobody"`}},
		{args: []string{"tenant", "list"}, code: 0, stdout: []string{"suspended"}},
		{args: []string{"tenant", "show", "acme"}, code: 0, stdout: []string{"status:   suspended", "  rateLimit=20"}},
		{args: []string{"tenant", "resume", "acme"}, code: 0, stdout: []string{"resumed tenant acme"}},
		{args: []string{"tenant", "resume", "acme"}, code: 0, stdout: []string{"already active"}},
	})
	// What other code reads.
	tn, err := st.GetTenant(context.Background(), "acme")
	if err != nil || tn.Status != store.TenantActive || tn.Setting(store.SettingRateLimit) != "20" ||
		tn.Setting(store.SettingPasswordSync) != "true" || tn.AuditTTL() != store.DefaultAuditTTL {
		t.Fatalf("tenant %+v %v", tn, err)
	}
}
