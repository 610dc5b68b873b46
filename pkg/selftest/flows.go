package selftest

import (
	"fmt"
	"slices"
	"strings"
)

// Flow names, in the order a run executes them.
const (
	FlowOkta   = "okta"
	FlowEntra  = "entra"
	FlowGroups = "groups"
	FlowImport = "import"
	FlowLimits = "limits"
	FlowEvents = "events"
	FlowXaaS   = "xaas"
)

// AllFlows returns every flow name in run order.
func AllFlows() []string {
	return []string{FlowOkta, FlowEntra, FlowGroups, FlowImport, FlowLimits, FlowEvents, FlowXaaS}
}

// ParseFlows parses a -flows value: comma-separated flow names (any case,
// spaces allowed), or "all". The result is in run order without duplicates.
func ParseFlows(s string) ([]string, error) {
	all := AllFlows()
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("no flows given; choose from %s", strings.Join(all, ","))
	}
	want := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		name := strings.ToLower(strings.TrimSpace(part))
		switch {
		case name == "":
			return nil, fmt.Errorf("empty flow name in %q", s)
		case name == "all":
			for _, f := range all {
				want[f] = true
			}
		case slices.Contains(all, name):
			want[name] = true
		default:
			return nil, fmt.Errorf("unknown flow %q; choose from %s or all", clip(part, 40), strings.Join(all, ","))
		}
	}
	var out []string
	for _, f := range all {
		if want[f] {
			out = append(out, f)
		}
	}
	return out, nil
}
