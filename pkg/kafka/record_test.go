// Table tests of the copy of one record and of its sizes (record.go).

package kafka

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCopyRecord: the target record of a source record keeps its key,
// value, headers and timestamp as they are (null stays null, empty stays
// empty), is addressed to the target topic and the same partition, and
// with identical topic names carries the cluster it came from, so that a
// record never loops back to where it was first produced.
func TestCopyRecord(t *testing.T) {
	identical := &Flow{SourceAlias: "src", TargetAlias: "dst", Identical: true}
	prefixed := &Flow{SourceAlias: "src", TargetAlias: "dst"}
	ts := time.Unix(1700000000, 123_000_000)
	origin := func(alias string) kgo.RecordHeader { return kgo.RecordHeader{Key: OriginHeader, Value: []byte(alias)} }
	h := func(k, v string) kgo.RecordHeader { return kgo.RecordHeader{Key: k, Value: []byte(v)} }
	for _, c := range []struct {
		name    string
		flow    *Flow
		target  string
		rec     kgo.Record
		keep    bool
		headers []kgo.RecordHeader // want (nil: none, as opposed to empty)
	}{
		{name: "prefixed: headers as they are", flow: prefixed, target: "src.t",
			rec: kgo.Record{Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{h("a", "1")}}, keep: true,
			headers: []kgo.RecordHeader{h("a", "1")}},
		{name: "prefixed: no origin header added", flow: prefixed, target: "src.t", rec: kgo.Record{Value: []byte("v")}, keep: true},
		{name: "prefixed: a record from the target is copied (its topic is not)", flow: prefixed, target: "src.t",
			rec: kgo.Record{Value: []byte("v"), Headers: []kgo.RecordHeader{origin("dst")}}, keep: true,
			headers: []kgo.RecordHeader{origin("dst")}},
		{name: "identical: the origin is added after the record's headers", flow: identical, target: "t",
			rec: kgo.Record{Value: []byte("v"), Headers: []kgo.RecordHeader{h("a", "1"), h("b", "")}}, keep: true,
			headers: []kgo.RecordHeader{h("a", "1"), h("b", ""), origin("src")}},
		{name: "identical: no headers, the origin alone", flow: identical, target: "t", rec: kgo.Record{Value: []byte("v")}, keep: true,
			headers: []kgo.RecordHeader{origin("src")}},
		{name: "identical: an origin elsewhere is kept", flow: identical, target: "t",
			rec: kgo.Record{Value: []byte("v"), Headers: []kgo.RecordHeader{origin("third"), h("a", "1")}}, keep: true,
			headers: []kgo.RecordHeader{origin("third"), h("a", "1")}},
		{name: "identical: a record that came from the target loops back: dropped", flow: identical, target: "t",
			rec: kgo.Record{Value: []byte("v"), Headers: []kgo.RecordHeader{h("a", "1"), origin("dst")}}, keep: false},
		{name: "null key and value", flow: prefixed, target: "src.t", rec: kgo.Record{}, keep: true},
		{name: "empty key and value", flow: prefixed, target: "src.t", rec: kgo.Record{Key: []byte{}, Value: []byte{}}, keep: true},
		{name: "empty headers", flow: prefixed, target: "src.t", rec: kgo.Record{Headers: []kgo.RecordHeader{}}, keep: true,
			headers: []kgo.RecordHeader{}},
		{name: "null and empty header values", flow: prefixed, target: "src.t",
			rec: kgo.Record{Headers: []kgo.RecordHeader{{Key: "null"}, {Key: "empty", Value: []byte{}}}}, keep: true,
			headers: []kgo.RecordHeader{{Key: "null"}, {Key: "empty", Value: []byte{}}}},
		{name: "identical: null and empty header values", flow: identical, target: "t",
			rec: kgo.Record{Key: []byte{}, Headers: []kgo.RecordHeader{{Key: "null"}, {Key: "empty", Value: []byte{}}}}, keep: true,
			headers: []kgo.RecordHeader{{Key: "null"}, {Key: "empty", Value: []byte{}}, origin("src")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := c.rec
			src.Topic, src.Partition, src.Offset, src.Timestamp = "t", 3, 41, ts
			before := append([]kgo.RecordHeader(nil), src.Headers...)
			out, keep := copyRecord(c.flow, c.target, &src)
			if keep != c.keep {
				t.Fatalf("keep = %v, want %v", keep, c.keep)
			}
			if !keep {
				if out != nil {
					t.Fatalf("a record not copied has a copy: %+v", out)
				}
				return
			}
			if out == &src {
				t.Fatal("the fetched record itself is produced")
			}
			if out.Topic != c.target || out.Partition != 3 || !out.Timestamp.Equal(ts) {
				t.Errorf("to %s[%d] at %s; want %s[3] at %s", out.Topic, out.Partition, out.Timestamp, c.target, ts)
			}
			if out.Offset != 0 || out.Context != nil {
				t.Errorf("the copy carries the fetched record's offset %d or context", out.Offset)
			}
			if !sameBytes(out.Key, src.Key) || !sameBytes(out.Value, src.Value) {
				t.Errorf("key %#v value %#v; want %#v, %#v", out.Key, out.Value, src.Key, src.Value)
			}
			if (out.Headers == nil) != (c.headers == nil) || len(out.Headers) != len(c.headers) {
				t.Fatalf("headers %#v, want %#v", out.Headers, c.headers)
			}
			for i := range c.headers {
				if out.Headers[i].Key != c.headers[i].Key || !sameBytes(out.Headers[i].Value, c.headers[i].Value) {
					t.Errorf("header %d: %#v, want %#v", i, out.Headers[i], c.headers[i])
				}
			}
			if len(src.Headers) != len(before) {
				t.Errorf("the fetched record's headers changed: %#v", src.Headers)
			}
		})
	}
}

// sameBytes reports whether a and b hold the same bytes and are both nil
// (null) or both not (empty or not).
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// TestRecordCost: what a record counts against its partition's in-flight
// cap: its key, value and headers, and a fixed overhead, so that empty
// records count too.
func TestRecordCost(t *testing.T) {
	for _, c := range []struct {
		rec  kgo.Record
		want int64
	}{
		{kgo.Record{}, recordOverhead},
		{kgo.Record{Key: []byte("key"), Value: []byte("value")}, 8 + recordOverhead},
		{kgo.Record{Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("12")}, {Key: "e"}}}, 1 + 3 + 1 + recordOverhead},
	} {
		if got := recordCost(&c.rec); got != c.want {
			t.Errorf("recordCost(%+v) = %d, want %d", c.rec, got, c.want)
		}
	}
	if got := keyValueBytes(&kgo.Record{Key: []byte("k"), Value: []byte("value"), Headers: []kgo.RecordHeader{{Key: "h"}}}); got != 6 {
		t.Errorf("keyValueBytes = %d, want 6", got)
	}
}

// TestRecordBatchBytesIsFranzGosFigure: recordBatchBytes is exactly the
// cap under which franz-go refuses a record on its own: a producer whose
// cap is that figure takes the record, one byte less refuses it. Were it
// smaller, the pipeline would hand franz-go records it refuses alone (and
// the records after them would be written before them).
func TestRecordBatchBytesIsFranzGosFigure(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"), kfake.BrokerConfigs(map[string]string{"message.max.bytes": "10000000"}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := strings.Repeat("v", 300_000)
	for i, rec := range []*kgo.Record{
		{Value: []byte(strings.Repeat("x", 600))},
		{Key: []byte("k"), Value: []byte(big)},
		{Value: []byte(big + big), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("header value")}, {Key: "empty"}}},
		{Key: []byte(strings.Repeat("k", 700)), Value: nil},
		{Value: []byte(strings.Repeat("v", 2_100_000))},
	} {
		n := recordBatchBytes(rec)
		for _, cap := range []int64{n, n - 1} {
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerBatchMaxBytes(int32(cap)), kgo.DefaultProduceTopic("t"))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			r := *rec
			err = cl.ProduceSync(ctx, &r).FirstErr()
			cancel()
			cl.Close()
			if cap == n && err != nil {
				t.Fatalf("record %d (%d bytes as a batch): refused with a cap of %d: %v", i, n, cap, err)
			}
			if cap < n && !errors.Is(err, kerr.MessageTooLarge) {
				t.Fatalf("record %d (%d bytes as a batch): with a cap of %d: %v, want MESSAGE_TOO_LARGE", i, n, cap, err)
			}
		}
	}
}

// TestFreshProducerCountsTheFixedLength: the franz-go fact overMainCap
// rests on. A producer given producerCap(limit) refuses on its own a
// record within the topic's limit whose batch is over the cap in the
// fixed-length terms franz-go uses until its first produce response; once
// it has had one, it takes the record. The topic takes the record either
// way.
func TestFreshProducerCountsTheFixedLength(t *testing.T) {
	const limit = 10_000
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"), kfake.BrokerConfigs(map[string]string{"message.max.bytes": "10000"}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rec := func() *kgo.Record { return &kgo.Record{Topic: "t", Value: []byte(strings.Repeat("v", 9_928))} }
	if b := brokerBatchBytes(rec()); b > limit {
		t.Fatalf("the record is %d bytes as a batch for the broker, over %d", b, limit)
	}
	if !overMainCap(rec(), limit) {
		t.Fatal("overMainCap does not predict the refusal")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerBatchMaxBytes(int32(producerCap(limit))))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rec()).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("the first record of a fresh producer: %v, want franz-go's own MESSAGE_TOO_LARGE", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("small")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, rec()).FirstErr(); err != nil {
		t.Fatalf("after a produce response: %v, want the record taken", err)
	}
}
