package main

// The produce and consume commands: two small Kafka helpers for demos and
// tests. They speak plaintext Kafka only (no SASL, no TLS).

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const produceSummary = `Writes --count demo records to --topic and waits until the brokers
acknowledge all of them, then prints "produced N records to TOPIC in DURATION".

Record i (0-based) has key "<key-prefix><i>", value "message-<i>" (or
--value-size random bytes) and the header "demo-seq: <i>". With --create
(the default) a missing topic is created with --partitions and
--replication-factor (-1 = the broker default); with --create=false a
missing topic is an error. --partition -1 lets the key choose the partition.
The whole command, connecting included, fails after --timeout.`

const consumeSummary = `Reads records from --topic and prints one per line on stdout, then exits
after --max records, or once --timeout passes without a new record
(--timeout 0 waits forever; an interrupt stops it the same way).

Without --from-beginning only records written after the start are read. With
--group the command consumes in that consumer group and commits what it
printed; --from-beginning then only applies when the group has no committed
offset yet.

--format text prints "PARTITION OFFSET KEY VALUE"; a key or value that is
empty, has spaces or control characters, or is not UTF-8 is printed
Go-quoted (a missing key as -). --format json prints one object a line:
{"topic","partition","offset","timestamp" (RFC 3339, UTC),"key","value",
"headers":[{"key","value"}]}; a null key or value is null, and a key or value
that is not UTF-8 is base64 with "key_encoding"/"value_encoding":"base64".

Exit status: 0 when --max is 0, or when --max records were printed; non-zero
when fewer than --max records arrived, when the topic does not exist, or
when Kafka cannot be reached within --timeout (30s if --timeout is 0).`

type produceConfig struct {
	bootstrap, topic, keyPrefix string
	count, valueSize, partition int
	create                      bool
	partitions, replication     int
	timeout                     time.Duration
	log                         logConfig
}

func runProduce(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c produceConfig
	s := newSettings("produce", produceSummary, getenv, stderr)
	s.String(&c.bootstrap, "bootstrap", "", "", "Kafka bootstrap brokers, host:port[,host:port...]")
	s.String(&c.topic, "topic", "", "", "topic to write to")
	s.Int(&c.count, "count", 10, "number of records to write")
	s.String(&c.keyPrefix, "key-prefix", "", "key-", "prefix of the record keys")
	s.Int(&c.valueSize, "value-size", 0, `value size in bytes of random data; 0 writes "message-<i>"`)
	s.Int(&c.partition, "partition", -1, "partition to write to; -1 lets the key choose")
	s.Bool(&c.create, "create", true, "create the topic if it does not exist")
	s.Int(&c.partitions, "partitions", 3, "partitions of a topic that --create creates")
	s.Int(&c.replication, "replication-factor", -1, "replication factor of a topic that --create creates; -1 = broker default")
	s.Duration(&c.timeout, "timeout", "30s", "give up after this long")
	s.logging(&c.log)
	if err := s.Parse(args); err != nil {
		return err
	}
	switch {
	case c.bootstrap == "":
		return errors.New("produce: --bootstrap (REPLICATOR_BOOTSTRAP) is required")
	case c.topic == "":
		return errors.New("produce: --topic is required")
	case c.count < 0, c.valueSize < 0, c.partition < -1:
		return errors.New("produce: --count and --value-size must be >= 0, --partition >= -1")
	case c.partitions < 1 || c.replication < -1 || c.replication == 0 || c.replication > 32767:
		return errors.New("produce: --partitions must be >= 1, --replication-factor -1 or >= 1")
	case c.timeout <= 0:
		return errors.New("produce: --timeout must be positive")
	}
	log, err := c.log.logger(stderr)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	opts := []kgo.Opt{
		kgo.SeedBrokers(splitBrokers(c.bootstrap)...),
		kgo.WithLogger(kgoLogger{log}),
		kgo.RecordDeliveryTimeout(c.timeout),
	}
	if c.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	defer cl.Close()

	partitions, err := topicPartitions(ctx, cl, c.bootstrap, c.topic, c.timeout)
	if errors.Is(err, kerr.UnknownTopicOrPartition) && c.create {
		_, err = kadm.NewClient(cl).CreateTopic(ctx, int32(c.partitions), int16(c.replication), nil, c.topic)
		switch {
		case err == nil:
			log.Info("created topic", "topic", c.topic, "partitions", c.partitions)
			partitions = c.partitions
		case errors.Is(err, kerr.TopicAlreadyExists): // created concurrently
			partitions, err = topicPartitions(ctx, cl, c.bootstrap, c.topic, c.timeout)
		default:
			err = fmt.Errorf("creating topic %s: %w", c.topic, err)
		}
	} else if errors.Is(err, kerr.UnknownTopicOrPartition) {
		err = fmt.Errorf("topic %s does not exist (and --create is false)", c.topic)
	}
	if err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	if c.partition >= partitions {
		return fmt.Errorf("produce: --partition %d: topic %s has %d partitions", c.partition, c.topic, partitions)
	}

	start := time.Now()
	errc := make(chan error, 1)
	for i := range c.count {
		seq := strconv.Itoa(i)
		value := []byte("message-" + seq)
		if c.valueSize > 0 {
			value = make([]byte, c.valueSize)
			rand.Read(value)
		}
		r := &kgo.Record{
			Topic:   c.topic,
			Key:     []byte(c.keyPrefix + seq),
			Value:   value,
			Headers: []kgo.RecordHeader{{Key: "demo-seq", Value: []byte(seq)}},
		}
		if c.partition >= 0 {
			r.Partition = int32(c.partition)
		}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		})
	}
	flushErr := cl.Flush(ctx)
	select {
	case err := <-errc:
		return fmt.Errorf("produce: %s: %w", c.topic, deadlineHint(err, c.bootstrap, c.timeout))
	default:
	}
	if flushErr != nil {
		return fmt.Errorf("produce: %s: %w", c.topic, deadlineHint(flushErr, c.bootstrap, c.timeout))
	}
	fmt.Fprintf(stdout, "produced %d records to %s in %s\n", c.count, c.topic, time.Since(start).Round(time.Millisecond))
	return nil
}

type consumeConfig struct {
	bootstrap, topic, group, format string
	fromBeginning                   bool
	max                             int
	timeout                         time.Duration
	log                             logConfig
}

func runConsume(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c consumeConfig
	s := newSettings("consume", consumeSummary, getenv, stderr)
	s.String(&c.bootstrap, "bootstrap", "", "", "Kafka bootstrap brokers, host:port[,host:port...]")
	s.String(&c.topic, "topic", "", "", "topic to read")
	s.Bool(&c.fromBeginning, "from-beginning", false, "start at the oldest record instead of the end")
	s.Int(&c.max, "max", 0, "exit after this many records; 0 = no limit")
	s.Duration(&c.timeout, "timeout", "10s", "exit after this long without a new record; 0 = never")
	s.String(&c.group, "group", "", "", "consumer group to consume in and commit to; empty = no group")
	s.String(&c.format, "format", "", "text", "output format: text or json")
	s.logging(&c.log)
	if err := s.Parse(args); err != nil {
		return err
	}
	switch {
	case c.bootstrap == "":
		return errors.New("consume: --bootstrap (REPLICATOR_BOOTSTRAP) is required")
	case c.topic == "":
		return errors.New("consume: --topic is required")
	case c.max < 0 || c.timeout < 0:
		return errors.New("consume: --max and --timeout must be >= 0")
	case c.format != "text" && c.format != "json":
		return fmt.Errorf("consume: --format %q must be text or json", c.format)
	}
	log, err := c.log.logger(stderr)
	if err != nil {
		return err
	}

	start := kgo.NewOffset().AtEnd()
	if c.fromBeginning {
		start = kgo.NewOffset().AtStart()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(splitBrokers(c.bootstrap)...),
		kgo.WithLogger(kgoLogger{log}),
		kgo.ConsumeTopics(c.topic),
		kgo.ConsumeStartOffset(start),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	if c.group != "" {
		opts = append(opts, kgo.ConsumerGroup(c.group), kgo.DisableAutoCommit())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	defer cl.Close()

	// Check the topic first: a typo or an unreachable broker would
	// otherwise look like an idle topic.
	connect := c.timeout
	if connect == 0 {
		connect = 30 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, connect)
	_, err = topicPartitions(cctx, cl, c.bootstrap, c.topic, connect)
	cancel()
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		err = fmt.Errorf("topic %s does not exist", c.topic)
	}
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}

	out := bufio.NewWriter(stdout)
	defer out.Flush()
	printed := 0
	idleUntil := time.Now().Add(c.timeout)
	for c.max == 0 || printed < c.max {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if c.timeout > 0 {
			pctx, cancel = context.WithDeadline(ctx, idleUntil)
		}
		want := -1
		if c.max > 0 {
			want = c.max - printed
		}
		fetches := cl.PollRecords(pctx, want)
		cancel()
		if fetches.IsClientClosed() {
			break
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			return fmt.Errorf("consume: %s partition %d: %w", fe.Topic, fe.Partition, fe.Err)
		}
		var batch []*kgo.Record
		fetches.EachRecord(func(r *kgo.Record) {
			if c.format == "json" {
				writeJSONRecord(out, r)
			} else {
				writeTextRecord(out, r)
			}
			batch = append(batch, r)
		})
		printed += len(batch)
		if len(batch) > 0 {
			idleUntil = time.Now().Add(c.timeout)
		}
		if err := out.Flush(); err != nil {
			return fmt.Errorf("consume: %w", err)
		}
		if c.group != "" && len(batch) > 0 {
			// Commit even when interrupted: what was printed is done.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			err := cl.CommitRecords(cctx, batch...)
			cancel()
			if err != nil {
				return fmt.Errorf("consume: committing to group %s: %w", c.group, err)
			}
		}
		if ctx.Err() != nil || (c.timeout > 0 && len(batch) == 0 && !time.Now().Before(idleUntil)) {
			break // interrupted, or idle for --timeout
		}
	}
	if c.max > 0 && printed < c.max {
		return fmt.Errorf("consume: got %d of %d records from %s", printed, c.max, c.topic)
	}
	return nil
}

// splitBrokers splits a comma-separated broker list.
func splitBrokers(s string) []string {
	var out []string
	for b := range strings.SplitSeq(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// topicPartitions returns how many partitions topic has, an error wrapping
// kerr.UnknownTopicOrPartition if it does not exist, or an error saying
// Kafka could not be reached.
func topicPartitions(ctx context.Context, cl *kgo.Client, bootstrap, topic string, timeout time.Duration) (int, error) {
	details, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if errors.Is(err, context.DeadlineExceeded) {
		return 0, deadlineHint(err, bootstrap, timeout)
	} else if err != nil {
		return 0, fmt.Errorf("cannot reach Kafka at %s: %w", bootstrap, err)
	}
	d, ok := details[topic]
	if !ok {
		return 0, fmt.Errorf("topic %s: %w", topic, kerr.UnknownTopicOrPartition)
	}
	if d.Err != nil {
		return 0, fmt.Errorf("topic %s: %w", topic, d.Err)
	}
	return len(d.Partitions), nil
}

// deadlineHint turns a timeout into an error that says what timed out.
func deadlineHint(err error, bootstrap string, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer from Kafka at %s within %s: %w", bootstrap, timeout, err)
	}
	return err
}

// jsonRecord is one line of consume --format json.
type jsonRecord struct {
	Topic         string       `json:"topic"`
	Partition     int32        `json:"partition"`
	Offset        int64        `json:"offset"`
	Timestamp     string       `json:"timestamp"`
	Key           *string      `json:"key"`
	KeyEncoding   string       `json:"key_encoding,omitempty"`
	Value         *string      `json:"value"`
	ValueEncoding string       `json:"value_encoding,omitempty"`
	Headers       []jsonHeader `json:"headers"`
}

type jsonHeader struct {
	Key           string  `json:"key"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding,omitempty"`
}

// jsonBytes returns b as a JSON string (nil for nil), base64 if not UTF-8.
func jsonBytes(b []byte) (*string, string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, ""
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s, "base64"
}

func writeJSONRecord(w io.Writer, r *kgo.Record) {
	j := jsonRecord{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Timestamp: r.Timestamp.UTC().Format(time.RFC3339Nano),
		Headers:   []jsonHeader{},
	}
	j.Key, j.KeyEncoding = jsonBytes(r.Key)
	j.Value, j.ValueEncoding = jsonBytes(r.Value)
	for _, h := range r.Headers {
		jh := jsonHeader{Key: h.Key}
		jh.Value, jh.ValueEncoding = jsonBytes(h.Value)
		j.Headers = append(j.Headers, jh)
	}
	line, _ := json.Marshal(j) // cannot fail: strings and numbers only
	w.Write(append(line, '\n'))
}

func writeTextRecord(w io.Writer, r *kgo.Record) {
	fmt.Fprintf(w, "%d %d %s %s\n", r.Partition, r.Offset, textField(r.Key), textField(r.Value))
}

// textField prints b as is when that is unambiguous in a space-separated
// line, Go-quoted otherwise; nil prints as -.
func textField(b []byte) string {
	if b == nil {
		return "-"
	}
	s := string(b)
	if s == "" || s == "-" || s[0] == '"' || !utf8.ValidString(s) ||
		strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// kgoLogger sends the Kafka client's logs to slog: its warnings and errors
// at those levels, its info at debug and its debug below that (DEBUG-4).
type kgoLogger struct{ l *slog.Logger }

func kgoToSlog(level kgo.LogLevel) slog.Level {
	switch level {
	case kgo.LogLevelError:
		return slog.LevelError
	case kgo.LogLevelWarn:
		return slog.LevelWarn
	case kgo.LogLevelInfo:
		return slog.LevelDebug
	}
	return slog.LevelDebug - 4
}

func (k kgoLogger) Level() kgo.LogLevel {
	for _, lvl := range []kgo.LogLevel{kgo.LogLevelDebug, kgo.LogLevelInfo, kgo.LogLevelWarn, kgo.LogLevelError} {
		if k.l.Enabled(context.Background(), kgoToSlog(lvl)) {
			return lvl
		}
	}
	return kgo.LogLevelNone
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	k.l.Log(context.Background(), kgoToSlog(level), msg, keyvals...)
}
