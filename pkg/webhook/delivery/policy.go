// Package delivery delivers directory events to webhook endpoints: one signed
// POST per event, retried with exponential backoff and jitter for at least a
// day, through a queue (SQS on AWS, in process locally) so that a slow
// receiver never holds up the event feed.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// Policy says which webhook URLs are allowed.
type Policy struct {
	// AllowHTTP allows plain http URLs (local runs); otherwise https only.
	AllowHTTP bool
	// AllowPrivate allows loopback, private and link-local addresses (local
	// runs); otherwise every address the host resolves to, and the address
	// actually dialed, must be public.
	AllowPrivate bool
}

// Strict is the policy on AWS: https only, public addresses only.
var Strict = Policy{}

// Local is the policy of a local run: any http(s) URL.
var Local = Policy{AllowHTTP: true, AllowPrivate: true}

// ErrURL means a webhook URL is refused by the policy.
var ErrURL = errors.New("webhook url refused")

// Resolver resolves host names (net.DefaultResolver satisfies it).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// MaxURL is the longest webhook URL accepted.
const MaxURL = 2048

// ValidateURL checks a webhook URL against the policy: an absolute http(s)
// URL without credentials or fragment, https unless AllowHTTP, and (unless
// AllowPrivate) a host whose every resolved address is public. Errors wrap
// ErrURL and say why.
func ValidateURL(ctx context.Context, raw string, p Policy, r Resolver) error {
	if len(raw) > MaxURL {
		return fmt.Errorf("%w: longer than %d bytes", ErrURL, MaxURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %q is not a URL", ErrURL, raw)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && p.AllowHTTP:
	case u.Scheme == "http":
		return fmt.Errorf("%w: %s: only https URLs are allowed", ErrURL, raw)
	default:
		return fmt.Errorf("%w: %q: the URL must start with https://", ErrURL, raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%w: %s has no host", ErrURL, raw)
	}
	if u.User != nil {
		return fmt.Errorf("%w: %s: credentials in the URL are not allowed", ErrURL, u.Redacted())
	}
	if u.Fragment != "" {
		return fmt.Errorf("%w: %s: a fragment is not allowed", ErrURL, raw)
	}
	if p.AllowPrivate {
		return nil
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if why := notPublic(a); why != "" {
			return fmt.Errorf("%w: %s is a %s address", ErrURL, host, why)
		}
		return nil
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return fmt.Errorf("%w: %s is a loopback host", ErrURL, host)
	}
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("%w: resolve %s: %w", ErrURL, host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%w: %s resolves to no address", ErrURL, host)
	}
	for _, a := range addrs {
		if why := notPublic(a); why != "" {
			return fmt.Errorf("%w: %s resolves to %s, a %s address", ErrURL, host, a, why)
		}
	}
	return nil
}

var reserved = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "reserved"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
}

// notPublic returns why a is not a public unicast address, "" when it is.
func notPublic(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast"
	}
	for _, r := range reserved {
		if r.prefix.Contains(a) {
			return r.why
		}
	}
	return ""
}

// dialControl refuses, under a strict policy, a connection to an address
// that is not public: checked on the address actually dialed, after DNS
// resolution, so a host that resolved to a public address at validation
// and to a private one later (DNS rebinding) is still refused.
func (p Policy) dialControl(network, address string, _ syscall.RawConn) error {
	if p.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: dial %s: %w", ErrURL, address, err)
	}
	if why := notPublic(ap.Addr()); why != "" {
		return fmt.Errorf("%w: dial %s: a %s address", ErrURL, ap.Addr(), why)
	}
	return nil
}
