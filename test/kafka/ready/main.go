// Command ready waits until a Kafka cluster answers a metadata request
// (authenticating with SASL/SCRAM when asked to) and reports at least
// -brokers brokers (default 1) and a controller. test/kafka/kafka.sh runs it
// after starting each broker, so tests never race a cluster that is still
// starting (or, for a multi-broker cluster, one that is still assembling).
//
//	ready -bootstrap 127.0.0.1:39092 [-brokers 3] [-scram-user U -scram-pass P] [-pid N,...] [-timeout 90s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

func main() {
	bootstrap := flag.String("bootstrap", "", "bootstrap broker(s), comma-separated")
	user := flag.String("scram-user", "", "SASL/SCRAM-SHA-256 user (empty: no SASL)")
	pass := flag.String("scram-pass", "", "SASL/SCRAM-SHA-256 password")
	timeout := flag.Duration("timeout", 90*time.Second, "give up after this long")
	pids := flag.String("pid", "", "process ID(s) of the broker(s), comma-separated: give up at once when one exits")
	brokers := flag.Int("brokers", 1, "wait until metadata lists at least this many brokers")
	flag.Parse()
	if *bootstrap == "" {
		fmt.Fprintln(os.Stderr, "ready: -bootstrap is required")
		os.Exit(2)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var last error
	for attempt := 1; ; attempt++ {
		n, err := check(ctx, *bootstrap, *user, *pass)
		if err == nil && n < *brokers {
			err = fmt.Errorf("%d of %d brokers registered", n, *brokers)
		}
		if err == nil {
			fmt.Printf("ready: %s answers metadata (%d broker(s)) after %s, %d attempt(s)\n",
				*bootstrap, n, time.Since(start).Round(time.Millisecond), attempt)
			return
		}
		last = err
		for _, p := range strings.Split(*pids, ",") {
			if pid, _ := strconv.Atoi(strings.TrimSpace(p)); pid > 0 && syscall.Kill(pid, 0) != nil {
				fmt.Fprintf(os.Stderr, "ready: the broker (pid %d) exited: %v\n", pid, last)
				os.Exit(1)
			}
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(os.Stderr, "ready: %s not ready within %s: %v\n", *bootstrap, *timeout, last)
			os.Exit(1)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// check sends one metadata request on a fresh client.
func check(ctx context.Context, bootstrap, user, pass string) (int, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.RequestRetries(0), kgo.RetryTimeout(time.Second),
		kgo.DialTimeout(2 * time.Second), kgo.RequestTimeoutOverhead(3 * time.Second)}
	if user != "" {
		opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	m, err := kadm.NewClient(cl).BrokerMetadata(rctx)
	if err != nil {
		return 0, err
	}
	if len(m.Brokers) == 0 {
		return 0, errors.New("no broker registered yet")
	}
	if m.Controller < 0 {
		return 0, errors.New("no active controller yet")
	}
	return len(m.Brokers), nil
}
