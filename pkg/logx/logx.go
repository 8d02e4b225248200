// Package logx keeps repeated log lines from flooding the logs: the first
// occurrence of an event is logged, later ones within an interval are only
// counted, and the first one after the interval is logged again with the
// count of those suppressed. An event is named by a key chosen by the
// caller (for example the component, the topic, the partition and the
// error's class), so distinct problems are each logged.
package logx

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// maxKeys bounds the memory a limiter keeps: beyond it, keys not seen for
// an interval are forgotten (their next occurrence is logged as a first).
const maxKeys = 4096

// Limiter decides which occurrences of repeated events are logged.
type Limiter struct {
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	keys map[string]*slot
}

type slot struct {
	logged     time.Time // when the key was last logged
	suppressed int       // occurrences since then that were not
}

// New returns a limiter that logs each key at most once per interval.
// now is the clock (nil: time.Now).
func New(interval time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{interval: interval, now: now, keys: map[string]*slot{}}
}

// Allow reports whether an occurrence of key is to be logged now and, if
// so, how many occurrences were suppressed since the key was last logged.
func (l *Limiter) Allow(key string) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.keys[key]
	if s == nil {
		if len(l.keys) >= maxKeys {
			l.sweepLocked(now)
		}
		l.keys[key] = &slot{logged: now}
		return true, 0
	}
	if now.Sub(s.logged) < l.interval {
		s.suppressed++
		return false, 0
	}
	n := s.suppressed
	s.logged, s.suppressed = now, 0
	return true, n
}

// sweepLocked forgets keys whose interval is over (an occurrence of them
// would be logged anyway); if none is, it forgets them all.
func (l *Limiter) sweepLocked(now time.Time) {
	for k, s := range l.keys {
		if now.Sub(s.logged) >= l.interval {
			delete(l.keys, k)
		}
	}
	if len(l.keys) >= maxKeys {
		clear(l.keys)
	}
}

// Log logs msg at level with args when Allow(key) says so, adding the
// attribute suppressed=N when earlier occurrences were not logged.
func (l *Limiter) Log(log *slog.Logger, level slog.Level, key, msg string, args ...any) {
	ok, n := l.Allow(key)
	if !ok {
		return
	}
	if n > 0 {
		args = append(args, "suppressed", n, "suppressed_over", l.interval.String())
	}
	log.Log(context.Background(), level, msg, args...)
}
