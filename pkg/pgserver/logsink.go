package pgserver

import (
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// tailBytes is how much server output is kept for error messages.
const tailBytes = 8 << 10

// logSink is where initdb, pg_ctl and the server write their output: either a
// log file or a pipe copied to Options.Log. The child processes inherit w as
// their stdout and stderr; the server keeps writing to it after pg_ctl exits.
type logSink struct {
	w *os.File // handed to children; closed by closeWriter

	// File mode.
	path string

	// Pipe mode.
	mu    sync.Mutex
	buf   []byte // last tailBytes bytes of output
	total int64  // bytes ever written
	done  chan struct{}
}

// newFileSink truncates (or creates) the log file at path.
func newFileSink(path string) (*logSink, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &logSink{w: f, path: path}, nil
}

// newPipeSink copies everything written to the sink into dst (whose errors
// are ignored: the pipe must be drained or the server would block) until
// every process holding the write end has exited.
func newPipeSink(dst io.Writer) (*logSink, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	s := &logSink{w: w, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer r.Close()
		b := make([]byte, 32<<10)
		for {
			n, err := r.Read(b)
			if n > 0 {
				s.record(b[:n])
				_, _ = dst.Write(b[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	return s, nil
}

func (s *logSink) record(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total += int64(len(p))
	s.buf = append(s.buf, p...)
	if over := len(s.buf) - tailBytes; over > 0 {
		s.buf = append(s.buf[:0], s.buf[over:]...)
	}
}

// closeWriter closes our copy of the write end. Children that inherited it
// (the server) keep theirs.
func (s *logSink) closeWriter() {
	if s.w != nil {
		_ = s.w.Close()
		s.w = nil
	}
}

// wait waits (at most d) until all output has been copied, which happens once
// the server and every other writer have exited. No-op in file mode.
func (s *logSink) wait(d time.Duration) {
	if s.done == nil {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
	}
}

// mark returns a position in the output, for since.
func (s *logSink) mark() int64 {
	if s.path != "" {
		fi, err := os.Stat(s.path)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// since returns (the kept part of) the output written after mark.
func (s *logSink) since(mark int64) string {
	if s.path != "" {
		return readFileFrom(s.path, mark, 1<<20)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start := s.total - int64(len(s.buf))
	if mark < start {
		mark = start
	}
	return string(s.buf[mark-start:])
}

// tail returns the last few KB of output, starting at a line boundary.
func (s *logSink) tail() string {
	var t string
	if s.path != "" {
		size := s.mark()
		t = readFileFrom(s.path, max(0, size-tailBytes), tailBytes)
	} else {
		t = s.since(0)
	}
	if len(t) >= tailBytes {
		if i := strings.IndexByte(t, '\n'); i >= 0 {
			t = t[i+1:]
		}
	}
	return strings.TrimRight(t, "\n")
}

func readFileFrom(path string, off, limit int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, off, limit))
	return string(b)
}
