package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<22; v++ {
		i := bucketOf(v)
		if i < prev || i > prev+1 {
			t.Fatalf("bucketOf(%d) = %d after %d", v, i, prev)
		}
		if v > bucketHigh(i) || (i > 0 && v <= bucketHigh(i-1)) {
			t.Fatalf("v %d not within bucket %d (%d..%d]", v, i, bucketHigh(i-1), bucketHigh(i))
		}
		prev = i
	}
}

func TestQuantileAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var a, b Histogram
	var all []time.Duration
	for i := range 200000 {
		d := time.Duration(r.ExpFloat64()*2000) * time.Microsecond
		all = append(all, d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := all[int(q*float64(len(all)))-1]
		got := a.Quantile(q)
		if got < exact || float64(got) > float64(exact)*1.02+float64(time.Microsecond) {
			t.Errorf("q%.3f = %v, exact %v", q, got, exact)
		}
	}
	if a.Count() != 200000 {
		t.Errorf("count %d", a.Count())
	}
}
