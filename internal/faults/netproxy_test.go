package faults

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/openreplicator/replicator/internal/testutil"
)

// echoServer echoes every connection until the client half-closes, then
// closes. It returns its address.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func newProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := Listen("test", "127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func dial(t *testing.T, p *Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// roundTrip writes msg and reads it back, within d.
func roundTrip(c net.Conn, msg []byte, d time.Duration) ([]byte, error) {
	_ = c.SetDeadline(time.Now().Add(d))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(msg); err != nil {
		return nil, err
	}
	got := make([]byte, len(msg))
	_, err := io.ReadFull(c, got)
	return got, err
}

func TestProxyPassesBytesAndHalfCloses(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	msg := bytes.Repeat([]byte("0123456789"), 50_000) // 500 kB: many chunks, in order
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(c)
		done <- b
	}()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if !bytes.Equal(got, msg) {
			t.Fatalf("got %d bytes back, want the %d sent, in order", len(got), len(msg))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the echo did not end after the half-close")
	}
	testutil.Eventually(t, 5*time.Second, "the link to end", func() error {
		if n := p.Open(); n != 0 {
			return fmt.Errorf("%d links open", n)
		}
		return nil
	})
}

func TestProxyDelay(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	if _, err := roundTrip(c, []byte("warm"), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Delay(150 * time.Millisecond)
	t0 := time.Now()
	if _, err := roundTrip(c, []byte("slow"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < 300*time.Millisecond {
		t.Fatalf("round trip took %s with 150 ms each way", d)
	}
	p.Delay(0)
	t0 = time.Now()
	if _, err := roundTrip(c, []byte("fast"), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 250*time.Millisecond {
		t.Fatalf("round trip took %s after the delay was lifted", d)
	}
}

func TestProxyHoldKeepsBytes(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	if _, err := roundTrip(c, []byte("before"), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Hold(true)
	// An open connection: nothing comes back while held.
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c.Read(make([]byte, 4)); n != 0 || !isTimeout(err) {
		t.Fatalf("read %d bytes (%v) during a hold", n, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	// A new connection is accepted but not connected upstream.
	c2 := dial(t, p)
	if _, err := c2.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	_ = c2.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c2.Read(make([]byte, 3)); n != 0 || !isTimeout(err) {
		t.Fatalf("read %d bytes (%v) on a new connection during a hold", n, err)
	}
	_ = c2.SetReadDeadline(time.Time{})
	p.Hold(false)
	// The held bytes go on: nothing lost, nothing reordered.
	got := make([]byte, 4)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "held" {
		t.Fatalf("after the hold: %q, %v", got, err)
	}
	got = make([]byte, 3)
	_ = c2.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadFull(c2, got); err != nil || string(got) != "new" {
		t.Fatalf("new connection after the hold: %q, %v", got, err)
	}
}

func TestProxyCutAndRefuse(t *testing.T) {
	p := newProxy(t)
	c := dial(t, p)
	if _, err := roundTrip(c, []byte("x"), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Refuse(true)
	if n := p.Cut(); n != 1 {
		t.Fatalf("cut %d connections, want 1", n)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read on a cut connection: %v, want a reset", err)
	}
	// Refused: a new connection is reset at once (on loopback the reset
	// may come before connect returns).
	if c2, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second); err == nil {
		defer c2.Close()
		if _, err := roundTrip(c2, []byte("y"), 2*time.Second); err == nil || isTimeout(err) {
			t.Fatalf("round trip on a refused connection: %v, want a reset", err)
		}
	} else if isTimeout(err) {
		t.Fatalf("dial of a refused connection: %v, want a reset", err)
	}
	p.Refuse(false)
	c3 := dial(t, p)
	if got, err := roundTrip(c3, []byte("z"), 2*time.Second); err != nil || string(got) != "z" {
		t.Fatalf("after the cut: %q, %v", got, err)
	}
	if p.Resets() < 2 {
		t.Fatalf("%d resets counted, want at least 2", p.Resets())
	}
}

func TestProxyCloseEndsEverything(t *testing.T) {
	p, err := Listen("test", "127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p)
	p.Hold(true)
	if _, err := c.Write([]byte("stuck")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with a held connection")
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Fatal("the proxy still accepts after Close")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
