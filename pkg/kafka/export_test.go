// What the external tests may read of the engine's internals.

package kafka

// PendingBytes is, for tests, the bytes of records the engine's
// replications hold fetched and not yet handed to their producers.
func (e *Engine) PendingBytes() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var sum int64
	for _, r := range e.reps {
		r.mu.Lock()
		for _, st := range r.parts {
			sum += st.pendingB.Load()
		}
		r.mu.Unlock()
	}
	return sum
}
