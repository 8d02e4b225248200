package fleet

import (
	"strings"
	"unicode/utf8"
)

// Limits of the worker protocol. Workers keep to them; the control plane
// enforces them again on what it receives, so that no report of one job
// (a huge error message, a flood of notices) can make a request fail and
// cost the other jobs in it their leases.
const (
	// MaxReportsPerRequest is how many job reports one heartbeat or
	// release carries at most; a worker with more jobs sends several.
	MaxReportsPerRequest = 256
	// MaxRequestBytes is the size a worker keeps one heartbeat or
	// release body under (the worker API refuses bodies over 1 MiB).
	MaxRequestBytes = 512 << 10
	// MaxCodeBytes bounds error and notice codes.
	MaxCodeBytes = 128
	// MaxMessageBytes bounds error and notice messages.
	MaxMessageBytes = 2048
	// MaxNoticesPerReport is how many notices one job report carries; a
	// job's further notices wait for the next heartbeat.
	MaxNoticesPerReport = 16
	// maxTopicBytes bounds PartitionProgress.TargetTopic (a Kafka topic
	// name is at most 249 characters).
	maxTopicBytes = 512
)

// Bound truncates what a report may carry to the protocol's limits: codes,
// messages and the target topic name are made storable (no NUL, valid
// UTF-8) and cut (on a UTF-8 boundary, marked with "…"), and notices beyond MaxNoticesPerReport are left for a later
// report. It returns the report for convenience; r is changed in place
// (its Error is copied first, so the job's own value is not changed).
func (r *JobReport) Bound() *JobReport {
	if r.Error != nil {
		e := *r.Error
		e.Code, e.Message = Truncate(storable(e.Code), MaxCodeBytes), Truncate(storable(e.Message), MaxMessageBytes)
		r.Error = &e
	}
	if len(r.Notices) > MaxNoticesPerReport {
		r.Notices = r.Notices[:MaxNoticesPerReport]
	}
	if len(r.Notices) > 0 {
		ns := make([]Notice, len(r.Notices))
		for i, n := range r.Notices {
			n.Code, n.Message = Truncate(storable(n.Code), MaxCodeBytes), Truncate(storable(n.Message), MaxMessageBytes)
			ns[i] = n
		}
		r.Notices = ns
	}
	if r.Progress != nil {
		if t := Truncate(storable(r.Progress.TargetTopic), maxTopicBytes); t != r.Progress.TargetTopic {
			p := *r.Progress
			p.TargetTopic = t
			r.Progress = &p
		}
	}
	return r
}

// storable returns s as PostgreSQL can store it in text and jsonb: valid
// UTF-8 without U+0000 (each NUL and each invalid byte becomes U+FFFD).
// Part of a report's text comes from clusters a tenant controls (a
// broker's error message, a topic name); a NUL in it made the whole
// heartbeat fail, and every lease in it with it.
func storable(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// Truncate returns s cut to at most max bytes on a UTF-8 boundary, ending
// in "…" when it was cut.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ellipsis = "…"
	cut := max - len(ellipsis)
	if cut < 0 {
		cut = 0
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
