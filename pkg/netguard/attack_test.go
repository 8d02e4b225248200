package netguard

import (
	"context"
	"errors"
	"net"
	"testing"
)

// TestUnspecifiedAddressIsLoopback: on Linux a connection to the
// unspecified address (0.0.0.0, ::, ::ffff:0.0.0.0) reaches the local host,
// as 127.0.0.1 or ::1 would. With loopback denied as the README advises for
// production (127.0.0.0/8,::1), a tenant naming 0.0.0.0:5432 as a broker
// must still not reach the worker's (or serve's) local services: neither at
// Create (Check) nor in the workers' dialer, whether the address is a
// literal or what a name resolves to.
func TestUnspecifiedAddressIsLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 8)
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

	p, err := Parse("", DefaultDenied+",127.0.0.0/8,::1")
	if err != nil {
		t.Fatal(err)
	}
	p.Resolver = fakeResolver{"zero.example.com": {"0.0.0.0"}, "zero6.example.com": {"::"}}
	for _, host := range []string{"0.0.0.0", "::", "::ffff:0.0.0.0", "zero.example.com", "zero6.example.com"} {
		addr := net.JoinHostPort(host, port)
		if err := p.Check(ctx, addr); !errors.Is(err, ErrDenied) {
			t.Errorf("Check(%s) with loopback denied = %v, want denied", addr, err)
		}
		c, err := p.Dialer(nil)(ctx, "tcp", addr)
		if c != nil {
			c.Close()
		}
		if !errors.Is(err, ErrDenied) {
			t.Errorf("dial %s with loopback denied: %v, want a DeniedError", addr, err)
		}
	}
	select {
	case <-accepted:
		t.Fatal("a listener on 127.0.0.1 was reached through the unspecified address while loopback is denied")
	default:
	}
}

// TestDefaultDeniesIPv6InstanceMetadata: the default denied list is meant
// to keep tenants away from cloud instance metadata. On AWS (Nitro) the
// instance metadata service also answers on IPv6 at fd00:ec2::254, a
// unique-local address, not a link-local one: the default must deny it
// as it denies 169.254.169.254.
func TestDefaultDeniesIPv6InstanceMetadata(t *testing.T) {
	p, err := Parse("", DefaultDenied)
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"[fd00:ec2::254]:80", "169.254.169.254:80"} {
		if err := p.Check(context.Background(), addr); !errors.Is(err, ErrDenied) {
			t.Errorf("Check(%s) with the default denied list = %v, want denied", addr, err)
		}
	}
}
