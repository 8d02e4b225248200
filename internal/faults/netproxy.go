package faults

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy is a TCP proxy in the test process between a listen address and an
// upstream address, with the network faults the suite injects:
//
//   - Delay: every chunk of bytes waits the given time in each direction
//     before it is passed on (order kept), as on a slow link;
//   - Hold (a drop): nothing is passed on and new connections are not
//     connected upstream, as when packets are dropped: TCP neither loses
//     nor reorders bytes, so the held bytes go on when the hold ends,
//     unless a peer gave up and closed its connection meanwhile;
//   - Cut: every open connection is reset (RST on both sides), and while
//     Refuse is on, new connections are reset at once.
//
// It uses loopback addresses only and holds at most a bounded number of
// chunks per connection (the peers' writes block beyond that, as TCP's
// would). Faults are undone by the same calls with zero or false; Close
// ends everything.
type Proxy struct {
	Name     string
	upstream string
	ln       net.Listener

	mu     sync.Mutex
	links  map[*link]struct{}
	delay  time.Duration
	gate   chan struct{} // closed while bytes flow; open (blocking) during a hold
	refuse bool
	closed bool

	accepted, resets atomic.Int64
	wg               sync.WaitGroup
}

// maxQueued is how many chunks (of up to 32 KiB) a direction of a link
// holds while delayed or held before it stops reading.
const maxQueued = 256

type link struct {
	client net.Conn
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	server net.Conn // nil until connected upstream
}

func (l *link) upstream() net.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.server
}

// Listen starts a proxy on listen (host:port; port 0 picks one) to
// upstream.
func Listen(name, listen, upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	open := make(chan struct{})
	close(open)
	p := &Proxy{Name: name, upstream: upstream, ln: ln, links: map[*link]struct{}{}, gate: open}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Upstream is the address the proxy connects to.
func (p *Proxy) Upstream() string { return p.upstream }

// Accepted is how many connections the proxy accepted so far; Resets how
// many it reset (cut or refused).
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }
func (p *Proxy) Resets() int64   { return p.resets.Load() }

// Open returns how many connections are open now.
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Delay sets the latency added to every chunk in each direction (0: none).
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Hold stops (true) or resumes (false) the flow of bytes on every
// connection, open or new.
func (p *Proxy) Hold(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	held := !isClosed(p.gate)
	switch {
	case on && !held:
		p.gate = make(chan struct{})
	case !on && held:
		close(p.gate)
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Refuse makes the proxy reset new connections at once (true) or accept
// them again (false).
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// Cut resets every open connection on both sides and returns how many.
func (p *Proxy) Cut() int {
	p.mu.Lock()
	ls := make([]*link, 0, len(p.links))
	for l := range p.links {
		ls = append(ls, l)
	}
	p.mu.Unlock()
	for _, l := range ls {
		l.reset()
		p.resets.Add(1)
	}
	return len(ls)
}

// Heal undoes every fault: no delay, no hold, no refusal.
func (p *Proxy) Heal() {
	p.Delay(0)
	p.Refuse(false)
	p.Hold(false)
}

// Close stops listening, resets every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if !isClosed(p.gate) {
		close(p.gate)
	}
	p.mu.Unlock()
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		p.mu.Lock()
		refuse, closed := p.refuse, p.closed
		p.mu.Unlock()
		if refuse || closed {
			rst(c)
			p.resets.Add(1)
			continue
		}
		l := &link{client: c, done: make(chan struct{})}
		p.mu.Lock()
		p.links[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		go p.serve(l)
	}
}

// serve connects a link upstream (after a hold, if one is on) and copies
// both ways until both directions end or the link is reset.
func (p *Proxy) serve(l *link) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
		l.close()
	}()
	if !p.waitGate(l) {
		return
	}
	s, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		// As a refused connection would look to the client.
		rst(l.client)
		return
	}
	l.mu.Lock()
	l.server = s
	l.mu.Unlock()
	select {
	case <-l.done: // cut while dialling
		rst(s)
		return
	default:
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pipe(l, l.client, s) }()
	go func() { defer wg.Done(); p.pipe(l, s, l.client) }()
	wg.Wait()
}

// waitGate waits while the proxy holds; false if the link ended meanwhile.
func (p *Proxy) waitGate(l *link) bool {
	for {
		p.mu.Lock()
		g := p.gate
		p.mu.Unlock()
		select {
		case <-g:
			p.mu.Lock()
			again := p.gate != g
			p.mu.Unlock()
			if !again {
				return true
			}
		case <-l.done:
			return false
		}
	}
}

type chunk struct {
	b  []byte
	at time.Time // when it may be written
}

// pipe copies src to dst through a bounded queue, applying the delay and
// the hold; at EOF it half-closes dst.
func (p *Proxy) pipe(l *link, src, dst net.Conn) {
	q := make(chan chunk, maxQueued)
	var rerr error // the reader's last error, read after q is closed
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				p.mu.Lock()
				d := p.delay
				p.mu.Unlock()
				select {
				case q <- chunk{b: buf[:n], at: time.Now().Add(d)}:
				case <-l.done:
					return
				}
			}
			if err != nil {
				rerr = err
				return
			}
		}
	}()
	for c := range q {
		if wait := time.Until(c.at); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				return
			}
		}
		if !p.waitGate(l) {
			return
		}
		if _, err := dst.Write(c.b); err != nil {
			l.reset()
			return
		}
	}
	select {
	case <-l.done:
		return
	default:
	}
	// src ended: pass a clean end on as a half-close, anything else (a
	// reset) as a reset of the whole link.
	tc, ok := dst.(*net.TCPConn)
	if !ok || !errors.Is(rerr, io.EOF) {
		l.reset()
		return
	}
	_ = tc.CloseWrite()
}

// reset ends a link with RST on both sides.
func (l *link) reset() {
	l.once.Do(func() {
		close(l.done)
		rst(l.client)
		if s := l.upstream(); s != nil {
			rst(s)
		}
	})
}

// close ends a link whose both directions finished.
func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		l.client.Close()
		if s := l.upstream(); s != nil {
			s.Close()
		}
	})
}

// rst closes a connection with a TCP reset rather than a FIN.
func rst(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
