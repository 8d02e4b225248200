// Package netguard decides which network destinations the service may
// connect to on a tenant's behalf: the bootstrap brokers a tenant names and
// the brokers their metadata points to. An operator lists allowed and denied
// host names, IP addresses and CIDR blocks; the control plane checks a
// replicator's bootstrap brokers at Create, and workers enforce the same
// policy in the Kafka dialer on the address actually dialled, after name
// resolution, so a DNS name that points at a denied address does not pass.
//
// Decision for one destination (a host name and the IP it resolves to):
//
//  1. A host name on the denied list is refused.
//  2. Among the IP entries of both lists that contain the IP, the most
//     specific (longest prefix) decides; on a tie the deny entry wins.
//  3. An IP no entry contains is allowed when the allowed list has no
//     entries at all, or when the host name is on the allowed list;
//     otherwise it is refused.
//
// The unspecified address (0.0.0.0, ::) is decided as the loopback address
// of its family: a connection to it reaches the local host.
//
// So an allowed host name never overrides a denied address, and an allowed
// block inside a denied one (allow 10.1.0.0/16, deny 10.0.0.0/8) carves an
// exception out of it.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// DefaultDenied is the default denied list: link-local addresses, where
// cloud instance metadata services answer, and AWS's IPv6 instance
// metadata endpoint (fd00:ec2::254, a unique-local address).
const DefaultDenied = "169.254.0.0/16,fe80::/10,fd00:ec2::254"

// None is the value of an empty list (an empty setting means its default).
const None = "none"

// ErrDenied is the error every refusal matches (errors.Is).
var ErrDenied = errors.New("destination not allowed")

// DeniedError is a refused destination.
type DeniedError struct {
	Addr string // host:port as given
	IP   string // the address that was refused, "" when the name was
}

func (e *DeniedError) Error() string {
	if e.IP != "" && !strings.HasPrefix(e.Addr, e.IP) && !strings.HasPrefix(e.Addr, "["+e.IP) {
		return fmt.Sprintf("destination %s (%s) is not allowed by the service's network policy", e.Addr, e.IP)
	}
	return fmt.Sprintf("destination %s is not allowed by the service's network policy", e.Addr)
}

// Is makes errors.Is(err, ErrDenied) hold.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// Resolver looks up the addresses of a host name (net.Resolver does).
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Policy is a parsed pair of lists. The nil Policy allows everything.
type Policy struct {
	allowNets, denyNets   []netip.Prefix
	allowNames, denyNames []string // lower case; ".example.com" matches subdomains
	// Resolver resolves host names (nil: net.DefaultResolver).
	Resolver Resolver
	// LookupTimeout bounds a resolution at Check (0: 3s).
	LookupTimeout time.Duration
}

// Parse reads the comma-separated allowed and denied lists. Each item is a
// CIDR block (10.0.0.0/8, fd00::/8), an IP address, a host name
// (kafka.example.com) or a domain and its subdomains (*.example.com or
// .example.com). "" or "none" is an empty list.
func Parse(allowed, denied string) (*Policy, error) {
	p := &Policy{}
	var err error
	if p.allowNets, p.allowNames, err = parseList(allowed); err != nil {
		return nil, fmt.Errorf("allowed destinations: %w", err)
	}
	if p.denyNets, p.denyNames, err = parseList(denied); err != nil {
		return nil, fmt.Errorf("denied destinations: %w", err)
	}
	return p, nil
}

func parseList(s string) (nets []netip.Prefix, names []string, err error) {
	if strings.TrimSpace(s) == None {
		return nil, nil, nil
	}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			pfx, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, nil, fmt.Errorf("%q is not a CIDR block", item)
			}
			nets = append(nets, normPrefix(pfx))
			continue
		}
		if ip, err := netip.ParseAddr(strings.Trim(item, "[]")); err == nil {
			ip = ip.Unmap().WithZone("")
			nets = append(nets, netip.PrefixFrom(ip, ip.BitLen()))
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(item, "."))
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			name = "." + rest
		}
		if !validName(strings.TrimPrefix(name, ".")) {
			return nil, nil, fmt.Errorf("%q is neither a CIDR block, an IP address nor a host name", item)
		}
		names = append(names, name)
	}
	return nets, names, nil
}

func normPrefix(p netip.Prefix) netip.Prefix {
	a := p.Addr()
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return p.Masked()
}

func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func nameMatches(names []string, host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, n := range names {
		if n == host || strings.HasPrefix(n, ".") && (strings.HasSuffix(host, n) || host == n[1:]) {
			return true
		}
	}
	return false
}

// longest returns the longest prefix length of nets that contains ip, -1
// for none.
func longest(nets []netip.Prefix, ip netip.Addr) int {
	best := -1
	for _, n := range nets {
		if n.Bits() > best && n.Contains(ip) {
			best = n.Bits()
		}
	}
	return best
}

// allowed decides for a host name (may be an IP literal) resolved to ip.
func (p *Policy) allowed(host string, ip netip.Addr) bool {
	if p == nil {
		return true
	}
	if nameMatches(p.denyNames, host) {
		return false
	}
	ip = decisionAddr(ip)
	a, d := longest(p.allowNets, ip), longest(p.denyNets, ip)
	switch {
	case d >= 0 && d >= a:
		return false
	case a >= 0:
		return true
	}
	return len(p.allowNets) == 0 && len(p.allowNames) == 0 || nameMatches(p.allowNames, host)
}

// decisionAddr is the address a decision is about: ip without its zone
// and IPv4-mapping, and the unspecified address as the loopback address
// of its family, since a connection to 0.0.0.0 or :: reaches the local
// host (on Linux), so a denied loopback must deny it too.
func decisionAddr(ip netip.Addr) netip.Addr {
	ip = ip.Unmap().WithZone("")
	if ip.IsUnspecified() {
		if ip.Is4() {
			return netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		return netip.IPv6Loopback()
	}
	return ip
}

// nameDenied reports whether a host name is refused whatever it resolves to.
func (p *Policy) nameDenied(host string) bool {
	return p != nil && nameMatches(p.denyNames, host)
}

func (p *Policy) resolver() Resolver {
	if p == nil || p.Resolver == nil {
		return net.DefaultResolver
	}
	return p.Resolver
}

// addrs returns the addresses of host: itself when it is an IP literal.
func (p *Policy) addrs(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	return p.resolver().LookupNetIP(ctx, "ip", host)
}

// Check checks one host:port before anything is stored: a denied name, a
// denied IP literal, or a name that resolves (now, from here) to a denied
// address is refused. A name that does not resolve here passes: workers may
// see another network, and their dialer applies the same policy.
func (p *Policy) Check(ctx context.Context, hostport string) error {
	if p == nil {
		return nil
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("%q is not host:port", hostport)
	}
	if p.nameDenied(host) {
		return &DeniedError{Addr: hostport}
	}
	timeout := p.LookupTimeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ips, err := p.addrs(ctx, host)
	if err != nil {
		return nil
	}
	for _, ip := range ips {
		if !p.allowed(host, ip) {
			return &DeniedError{Addr: hostport, IP: ip.String()}
		}
	}
	return nil
}

// Dialer returns a dial function for kgo.Dialer (and net/http) that
// resolves the host itself, keeps only the allowed addresses and connects
// to one of them, so the address checked is the address dialled. base
// nil is a plain net.Dialer.
func (p *Policy) Dialer(base *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if base == nil {
		base = &net.Dialer{}
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if p.nameDenied(host) {
			return nil, &DeniedError{Addr: addr}
		}
		ips, err := p.addrs(ctx, host)
		if err != nil {
			return nil, err
		}
		var lastErr error
		for _, ip := range ips {
			if !p.allowed(host, ip) {
				if lastErr == nil {
					lastErr = &DeniedError{Addr: addr, IP: ip.String()}
				}
				continue
			}
			c, err := base.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return c, nil
			}
			lastErr = err
			if ctx.Err() != nil {
				break
			}
		}
		if lastErr == nil {
			lastErr = &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
		}
		return nil, lastErr
	}
}

// DialerOrNil is Dialer(nil) for a policy and nil for the nil policy, for
// configurations where nil means the library's own dialer.
func (p *Policy) DialerOrNil() func(ctx context.Context, network, addr string) (net.Conn, error) {
	if p == nil {
		return nil
	}
	return p.Dialer(nil)
}
