package apibench

import (
	"testing"
	"time"
)

func TestParsePgbench(t *testing.T) {
	out := `pgbench (15.8 (Debian 15.8-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 10
query mode: prepared
number of clients: 32
number of threads: 2
maximum number of tries: 1
duration: 30 s
number of transactions actually processed: 750123
number of failed transactions: 0 (0.000%)
latency average = 1.279 ms
initial connection time = 25.106 ms
tps = 25011.352911 (without initial connection time)
`
	r, err := ParsePgbench(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.TPS != 25011.352911 || r.Transactions != 750123 || r.Failed != 0 || r.LatencyAvg != 1279*time.Microsecond {
		t.Fatalf("%+v", r)
	}
	old := "latency average = 2.000 ms\ntps = 100.5 (including connections establishing)\ntps = 101.5 (excluding connections establishing)\n"
	if r, err := ParsePgbench(old); err != nil || r.TPS != 101.5 {
		t.Fatalf("%v %+v", err, r)
	}
}
