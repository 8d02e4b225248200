package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	ips, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, s := range ips {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func TestParse(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "not a host!", "a..b", "1.2.3.4/x"} {
		if _, err := Parse(bad, ""); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
		if _, err := Parse("", bad); err == nil {
			t.Errorf("Parse(deny %q) accepted", bad)
		}
	}
	for _, good := range []string{"", "none", " 10.0.0.0/8 , fd00::/8,1.2.3.4,::1,[::1],kafka.example.com,*.example.org,.example.net,localhost"} {
		if _, err := Parse(good, DefaultDenied); err != nil {
			t.Errorf("Parse(%q): %v", good, err)
		}
	}
}

func TestDecisions(t *testing.T) {
	for _, tc := range []struct {
		allowed, denied string
		host, ip        string
		want            bool
	}{
		// The defaults: link-local denied, everything else allowed.
		{"", DefaultDenied, "169.254.169.254", "169.254.169.254", false},
		{"", DefaultDenied, "metadata.internal", "169.254.169.254", false},
		{"", DefaultDenied, "fe80::1", "fe80::1", false},
		{"", DefaultDenied, "::ffff:169.254.169.254", "::ffff:169.254.169.254", false},
		{"", DefaultDenied, "127.0.0.1", "127.0.0.1", true},
		{"", DefaultDenied, "kafka", "10.1.2.3", true},
		{"none", "none", "169.254.169.254", "169.254.169.254", true},
		// Deny loopback (production), allow what is listed only.
		{"", "127.0.0.0/8,::1", "localhost", "127.0.0.1", false},
		{"10.0.0.0/8", "", "kafka", "10.1.2.3", true},
		{"10.0.0.0/8", "", "kafka", "192.168.1.1", false},
		// The most specific entry wins; a tie is denied.
		{"10.1.0.0/16", "10.0.0.0/8", "a", "10.1.2.3", true},
		{"10.1.0.0/16", "10.0.0.0/8", "a", "10.2.2.3", false},
		{"10.0.0.0/8", "10.0.0.0/8", "a", "10.2.2.3", false},
		{"0.0.0.0/0", "10.9.0.0/16", "a", "10.9.1.1", false},
		// Names: a denied name is refused; an allowed name admits addresses
		// no entry names, but never a denied address.
		{"", "kafka.evil.com", "KAFKA.evil.com.", "10.0.0.1", false},
		{"", "*.evil.com", "b.kafka.evil.com", "10.0.0.1", false},
		{"*.example.com", "", "b-1.example.com", "10.0.0.1", true},
		{"*.example.com", "", "example.com", "10.0.0.1", true},
		{"*.example.com", "", "example.org", "10.0.0.1", false},
		{"*.example.com", DefaultDenied, "b-1.example.com", "169.254.169.254", false},
	} {
		p, err := Parse(tc.allowed, tc.denied)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.allowed(tc.host, netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("allowed %q denied %q: %s (%s) = %v, want %v", tc.allowed, tc.denied, tc.host, tc.ip, got, tc.want)
		}
	}
	var nilPolicy *Policy
	if !nilPolicy.allowed("x", netip.MustParseAddr("169.254.169.254")) || nilPolicy.Check(context.Background(), "x:1") != nil {
		t.Error("the nil policy refuses something")
	}
}

func TestCheck(t *testing.T) {
	p, _ := Parse("", DefaultDenied+",db.internal")
	p.Resolver = fakeResolver{"rebind.example.com": {"10.0.0.1", "169.254.169.254"}, "ok.example.com": {"10.0.0.2"}}
	ctx := context.Background()
	for _, tc := range []struct {
		addr   string
		denied bool
	}{
		{"169.254.169.254:80", true},
		{"[fe80::1]:9092", true},
		{"rebind.example.com:9092", true}, // one of its addresses is denied
		{"db.internal:5432", true},
		{"ok.example.com:9092", false},
		{"unknown.example.com:9092", false}, // does not resolve here: the worker decides
		{"127.0.0.1:9092", false},
	} {
		err := p.Check(ctx, tc.addr)
		if got := errors.Is(err, ErrDenied); got != tc.denied {
			t.Errorf("Check(%s) = %v, want denied %v", tc.addr, err, tc.denied)
		}
	}
}

// The dialer checks the address it dials: a name that resolves to a denied
// address is refused without a connection; an allowed one connects.
func TestDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ctx := context.Background()

	p, _ := Parse("", "127.0.0.0/8")
	p.Resolver = fakeResolver{"sneaky.example.com": {"127.0.0.1"}}
	for _, host := range []string{"127.0.0.1", "sneaky.example.com"} {
		c, err := p.Dialer(nil)(ctx, "tcp", net.JoinHostPort(host, port))
		var de *DeniedError
		if err == nil || !errors.As(err, &de) || !errors.Is(err, ErrDenied) {
			if c != nil {
				c.Close()
			}
			t.Fatalf("dial %s with loopback denied: %v, want a DeniedError", host, err)
		}
	}
	select {
	case <-accepted:
		t.Fatal("a denied destination was connected to")
	default:
	}

	p, _ = Parse("127.0.0.1", "")
	p.Resolver = fakeResolver{"kafka.test": {"169.254.1.1", "127.0.0.1"}}
	for _, host := range []string{"127.0.0.1", "kafka.test"} {
		c, err := p.Dialer(nil)(ctx, "tcp", net.JoinHostPort(host, port))
		if err != nil {
			t.Fatalf("dial %s allowed: %v", host, err)
		}
		c.Close()
		<-accepted
	}
}
