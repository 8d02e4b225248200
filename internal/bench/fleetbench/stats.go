package fleetbench

import (
	"fmt"
	"math"
	"time"

	"github.com/openreplicator/replicator/internal/bench"
)

// quantile is the nearest-rank quantile of sorted values (0 if empty): the
// failover figures, a handful of exact values.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// ms formats a duration in milliseconds with sensible precision.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f >= 100:
		return fmt.Sprintf("%.0f ms", f)
	case f >= 10:
		return fmt.Sprintf("%.1f ms", f)
	default:
		return fmt.Sprintf("%.2f ms", f)
	}
}

// secs formats a duration in seconds.
func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// rate formats a per-second rate.
func rate(n int64, over time.Duration) string {
	if over <= 0 {
		return "n/a"
	}
	return bench.Thousands(int64(math.Round(float64(n)/over.Seconds()))) + "/s"
}

func perSec(n int64, over time.Duration) float64 {
	if over <= 0 {
		return 0
	}
	return float64(n) / over.Seconds()
}
