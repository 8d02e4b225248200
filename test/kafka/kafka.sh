#!/usr/bin/env bash
# Real Apache Kafka for the integration tests, from Maven Central jars only
# (test/kafka/pom.xml pins the version): no tarball, no Docker.
#
#   bash test/kafka/kafka.sh fetch    copy the jars into $KAFKA_CACHE/lib (skipped when up to date)
#   bash test/kafka/kafka.sh up       start the source and target clusters, wait until ready
#   bash test/kafka/kafka.sh down     stop both and remove their data (idempotent)
#   bash test/kafka/kafka.sh status   show what runs
#   bash test/kafka/kafka.sh stop NAME    stop one cluster (source or target), keeping its data
#   bash test/kafka/kafka.sh start NAME   start a stopped cluster again and wait until it is ready
#   bash test/kafka/kafka.sh run CLASS ARGS...   any Kafka class on the same class path,
#                                     e.g. org.apache.kafka.tools.ProducerPerformance
#
# Two independent single-node KRaft clusters (combined broker+controller) on
# loopback:
#   source  PLAINTEXT 127.0.0.1:$KAFKA_SOURCE_PORT (39092), controller $KAFKA_SOURCE_CONTROLLER_PORT (39192)
#   target  PLAINTEXT 127.0.0.1:$KAFKA_TARGET_PORT (39093),
#           SASL_PLAINTEXT (SCRAM-SHA-256) 127.0.0.1:$KAFKA_TARGET_SASL_PORT (39094),
#           controller $KAFKA_TARGET_CONTROLLER_PORT (39193)
# SCRAM users on the target: admin/admin-secret (super user) and
# replicator/replicator-secret. Both clusters run the StandardAuthorizer with
# allow.everyone.if.no.acl.found=true, so ACL CRUD works and nobody is locked
# out; the PLAINTEXT principal (User:ANONYMOUS) is a super user.
#
# `up` writes $KAFKA_CACHE/run/env (KAFKA_SOURCE=, KAFKA_TARGET=,
# KAFKA_TARGET_SASL=, KAFKA_SCRAM_*), which internal/integration reads.
# Logs: $KAFKA_CACHE/run/<cluster>/logs/server.log (log4j2) and
# $KAFKA_CACHE/run/<cluster>/console.log (JVM stdout/stderr).
#
# Environment: KAFKA_CACHE (default .cache/kafka under the repository root;
# the jars are in $KAFKA_CACHE/lib), KAFKA_RUN (default $KAFKA_CACHE/run),
# KAFKA_HEAP (default -Xmx512m), KAFKA_JVM_OPTS (default
# -XX:TieredStopAtLevel=1), KAFKA_READY_TIMEOUT (default 120s), the
# port variables above, MVN (default mvn).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${KAFKA_CACHE:-.cache/kafka}
case "$CACHE" in /*) ;; *) CACHE="$ROOT/$CACHE" ;; esac
LIB="$CACHE/lib"
RUN=${KAFKA_RUN:-$CACHE/run}
BIN="$CACHE/bin"
POM="$HERE/pom.xml"
MVN=${MVN:-mvn}
HEAP=${KAFKA_HEAP:--Xmx512m}
# C1 only: the JVMs start faster; set KAFKA_JVM_OPTS= (empty) for full JIT,
# e.g. for perf tools.
JVM_OPTS=${KAFKA_JVM_OPTS--XX:TieredStopAtLevel=1}
READY_TIMEOUT=${KAFKA_READY_TIMEOUT:-120s}

SOURCE_PORT=${KAFKA_SOURCE_PORT:-39092}
SOURCE_CONTROLLER_PORT=${KAFKA_SOURCE_CONTROLLER_PORT:-39192}
TARGET_PORT=${KAFKA_TARGET_PORT:-39093}
TARGET_SASL_PORT=${KAFKA_TARGET_SASL_PORT:-39094}
TARGET_CONTROLLER_PORT=${KAFKA_TARGET_CONTROLLER_PORT:-39193}
SCRAM_ADMIN_USER=admin
SCRAM_ADMIN_PASS=admin-secret
SCRAM_USER=replicator
SCRAM_PASS=replicator-secret

log() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

# --- fetch -------------------------------------------------------------------

cmd_fetch() {
	local t0 want
	t0=$(now)
	want=$(pom_hash)
	if [ -f "$LIB/.stamp" ] && [ "$(cat "$LIB/.stamp")" = "$want" ] && ls "$LIB"/kafka_2.13-*.jar >/dev/null 2>&1; then
		log "fetch: $LIB is up to date ($(ls "$LIB"/*.jar | wc -l) jars, $(kafka_version)); $(since "$t0")"
		return 0
	fi
	command -v "$MVN" >/dev/null || die "Maven ($MVN) is required to fetch the Kafka jars (apt-get install maven)"
	command -v java >/dev/null || die "Java 17+ is required to run Kafka (apt-get install openjdk-17-jre-headless)"
	log "fetch: resolving $(grep -o '<kafka.version>[^<]*' "$POM" | cut -d'>' -f2) from Maven Central into $LIB"
	rm -rf "$LIB.tmp"
	mkdir -p "$LIB.tmp"
	# (sed: Maven 3.8 prints colour resets even in batch mode)
	"$MVN" -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB.tmp" 2>&1 |
		sed 's/\x1b\[[0-9;]*m//g; /^$/d' || die "mvn dependency:copy-dependencies failed"
	rm -rf "$LIB"
	mv "$LIB.tmp" "$LIB"
	echo "$want" >"$LIB/.stamp"
	log "fetch: $(ls "$LIB"/*.jar | wc -l) jars ($(du -sh "$LIB" | cut -f1)), $(kafka_version); $(since "$t0")"
}

kafka_version() {
	local j
	j=$(ls "$LIB"/kafka_2.13-*.jar 2>/dev/null | head -1)
	[ -n "$j" ] || { echo "no Kafka"; return; }
	j=${j##*/kafka_2.13-}
	echo "Kafka ${j%.jar}"
}

need_lib() {
	ls "$LIB"/kafka_2.13-*.jar >/dev/null 2>&1 || die "no Kafka jars in $LIB: run '$0 fetch' first"
	command -v java >/dev/null || die "Java 17+ is required to run Kafka"
}

# --- configuration -------------------------------------------------------------

# java_args NAME: fills JAVA_ARGS with the JVM options for the Kafka process
# NAME (heap cap, log4j2 file configuration, the cached jars as class path).
java_args() {
	local name=$1
	# shellcheck disable=SC2206
	JAVA_ARGS=($HEAP -Xms128m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent
		$JVM_OPTS -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true
		"-Dlog4j2.configurationFile=$RUN/$name/log4j2.xml" "-Dkafka.logs.dir=$RUN/$name/logs"
		-cp "$LIB/*")
}

write_log4j2() {
	local dir=$1
	mkdir -p "$dir/logs"
	cat >"$dir/log4j2.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders>
    <File name="server" fileName="$dir/logs/server.log" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
    <File name="controller" fileName="$dir/logs/controller.log" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Root level="info"><AppenderRef ref="server"/></Root>
    <Logger name="kafka.controller" level="info" additivity="false"><AppenderRef ref="controller"/></Logger>
    <Logger name="org.apache.kafka.controller" level="info" additivity="false"><AppenderRef ref="controller"/></Logger>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="kafka.log.LogCleaner" level="warn"/>
    <Logger name="state.change.logger" level="warn"/>
  </Loggers>
</Configuration>
EOF
}

# common_props NAME CONTROLLER_PORT: settings shared by both clusters.
common_props() {
	local name=$1 cport=$2
	cat <<EOF
# $name: a single-node KRaft cluster (broker and controller in one process)
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$RUN/$name/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.check.interval.ms=60000
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
# ACL CRUD works (StandardAuthorizer), nobody is locked out.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=true
super.users=User:ANONYMOUS;User:$SCRAM_ADMIN_USER
EOF
}

write_source_config() {
	local dir="$RUN/source"
	mkdir -p "$dir"
	{
		common_props source "$SOURCE_CONTROLLER_PORT"
		cat <<EOF
listeners=PLAINTEXT://127.0.0.1:$SOURCE_PORT,CONTROLLER://127.0.0.1:$SOURCE_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$SOURCE_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
EOF
	} >"$dir/server.properties"
	write_log4j2 "$dir"
}

write_target_config() {
	local dir="$RUN/target"
	mkdir -p "$dir"
	{
		common_props target "$TARGET_CONTROLLER_PORT"
		cat <<EOF
listeners=PLAINTEXT://127.0.0.1:$TARGET_PORT,SASL_PLAINTEXT://127.0.0.1:$TARGET_SASL_PORT,CONTROLLER://127.0.0.1:$TARGET_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$TARGET_PORT,SASL_PLAINTEXT://127.0.0.1:$TARGET_SASL_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
	} >"$dir/server.properties"
	write_log4j2 "$dir"
}

# --- processes -----------------------------------------------------------------

pid_of() {
	local f="$RUN/$1/pid"
	[ -f "$f" ] || return 1
	local pid
	pid=$(cat "$f")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	# Only our broker: a stale pid file must not make us signal a stranger.
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $RUN/$1/server.properties" || return 1
	echo "$pid"
}

port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

format_storage() {
	local name=$1
	shift
	local dir="$RUN/$name" id
	# A fresh, random cluster ID for every `up`, in the form of Kafka's
	# Uuid.randomUuid() (16 random bytes, URL-safe base64, no padding, not
	# starting with '-'), without a JVM start for `kafka-storage random-uuid`.
	id=-
	while [ "${id#-}" != "$id" ]; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
	done
	echo "$id" >"$dir/cluster-id"
	java_args "$name"
	java "${JAVA_ARGS[@]}" kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" "$@" \
		>>"$dir/console.log" 2>&1 || { tail -20 "$dir/console.log" >&2; die "$name: storage format failed"; }
}

start_broker() {
	local name=$1 dir="$RUN/$1"
	# setsid: the broker gets its own session, so a Ctrl-C at the caller's
	# terminal does not kill it behind `down`'s back.
	java_args "$name"
	rm -f "$dir/pid"
	# shellcheck disable=SC2016
	setsid bash -c 'echo $$ >"$0"; exec "$@"' "$dir/pid" \
		java "${JAVA_ARGS[@]}" kafka.Kafka "$dir/server.properties" >>"$dir/console.log" 2>&1 </dev/null &
	for _ in $(seq 1 100); do
		[ -s "$dir/pid" ] && return 0
		sleep 0.05
	done
	die "$name: the broker did not start"
}

build_ready() {
	mkdir -p "$BIN"
	if [ ! -x "$BIN/ready" ] || [ -n "$(find "$HERE/ready" -newer "$BIN/ready" -name '*.go' 2>/dev/null)" ]; then
		(cd "$ROOT" && go build -o "$BIN/ready" ./test/kafka/ready) || die "could not build the readiness checker"
	fi
}

cmd_up() {
	local t0 t
	t0=$(now)
	need_lib
	for name in source target; do
		if pid_of "$name" >/dev/null; then
			die "$name is already running (pid $(pid_of "$name")); run '$0 down' first"
		fi
	done
	for p in "$SOURCE_PORT" "$SOURCE_CONTROLLER_PORT" "$TARGET_PORT" "$TARGET_SASL_PORT" "$TARGET_CONTROLLER_PORT"; do
		port_busy "$p" && die "port $p on 127.0.0.1 is in use (another Kafka? '$0 down', or set KAFKA_*_PORT)"
	done
	rm -rf "$RUN"
	mkdir -p "$RUN"
	log "up: $(kafka_version), heap $HEAP, run dir $RUN"
	t=$(now)
	build_ready &
	local ready_build=$!
	write_source_config
	write_target_config
	# The two formats are independent JVM starts: run them side by side.
	format_storage source &
	local f1=$!
	format_storage target \
		--add-scram "SCRAM-SHA-256=[name=$SCRAM_ADMIN_USER,password=$SCRAM_ADMIN_PASS]" \
		--add-scram "SCRAM-SHA-256=[name=$SCRAM_USER,password=$SCRAM_PASS]" &
	local f2=$!
	wait "$f1" || die "formatting the source failed"
	wait "$f2" || die "formatting the target failed"
	wait "$ready_build" || die "building the readiness checker failed"
	log "up: storage formatted (source $(cat "$RUN/source/cluster-id"), target $(cat "$RUN/target/cluster-id"), SCRAM users $SCRAM_ADMIN_USER, $SCRAM_USER); $(since "$t")"
	t=$(now)
	start_broker source
	start_broker target
	log "up: started source (pid $(cat "$RUN/source/pid")) and target (pid $(cat "$RUN/target/pid"))"
	local ok=1
	"$BIN/ready" -bootstrap "127.0.0.1:$SOURCE_PORT" -pid "$(cat "$RUN/source/pid")" -timeout "$READY_TIMEOUT" | sed 's/^/kafka: source /' || ok=0
	[ "$ok" = 1 ] && { "$BIN/ready" -bootstrap "127.0.0.1:$TARGET_PORT" -pid "$(cat "$RUN/target/pid")" -timeout "$READY_TIMEOUT" | sed 's/^/kafka: target /' || ok=0; }
	[ "$ok" = 1 ] && { "$BIN/ready" -bootstrap "127.0.0.1:$TARGET_SASL_PORT" -pid "$(cat "$RUN/target/pid")" -scram-user "$SCRAM_USER" -scram-pass "$SCRAM_PASS" \
		-timeout "$READY_TIMEOUT" | sed 's/^/kafka: target (SASL_PLAINTEXT, SCRAM) /' || ok=0; }
	if [ "$ok" != 1 ]; then
		for name in source target; do
			log "--- tail of $RUN/$name/console.log"
			tail -n 30 "$RUN/$name/console.log" 2>/dev/null || true
			log "--- tail of $RUN/$name/logs/server.log"
			tail -n 40 "$RUN/$name/logs/server.log" 2>/dev/null || true
		done
		stop_all
		die "the clusters did not become ready"
	fi
	cat >"$RUN/env" <<EOF
KAFKA_VERSION=$(kafka_version | cut -d' ' -f2)
KAFKA_SOURCE=127.0.0.1:$SOURCE_PORT
KAFKA_TARGET=127.0.0.1:$TARGET_PORT
KAFKA_TARGET_SASL=127.0.0.1:$TARGET_SASL_PORT
KAFKA_SCRAM_MECHANISM=SCRAM-SHA-256
KAFKA_SCRAM_ADMIN_USER=$SCRAM_ADMIN_USER
KAFKA_SCRAM_ADMIN_PASSWORD=$SCRAM_ADMIN_PASS
KAFKA_SCRAM_USER=$SCRAM_USER
KAFKA_SCRAM_PASSWORD=$SCRAM_PASS
KAFKA_SOURCE_PID=$(cat "$RUN/source/pid")
KAFKA_TARGET_PID=$(cat "$RUN/target/pid")
KAFKA_SOURCE_LOG=$RUN/source/logs/server.log
KAFKA_TARGET_LOG=$RUN/target/logs/server.log
EOF
	log "up: both clusters ready in $(since "$t") after start; wrote $RUN/env"
	sed 's/^/kafka:   /' "$RUN/env" | grep -v PASSWORD
	log "up: done in $(since "$t0")"
}

# stop NAME: SIGTERM, wait up to 30 s for a clean shutdown, then SIGKILL.
stop_one() {
	local name=$1 pid
	pid=$(pid_of "$name") || { rm -f "$RUN/$name/pid"; return 0; }
	log "down: stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "down: $name did not stop within 30 s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$RUN/$name/pid"
}

stop_all() {
	local p1="" p2=""
	stop_one source &
	p1=$!
	stop_one target &
	p2=$!
	wait "$p1" || true
	wait "$p2" || true
}

cmd_down() {
	local t0
	t0=$(now)
	if [ ! -d "$RUN" ]; then
		log "down: nothing runs ($RUN does not exist)"
		return 0
	fi
	stop_all
	if [ -n "${KAFKA_KEEP_LOGS:-}" ]; then
		local keep="$CACHE/last-logs"
		rm -rf "$keep"
		mkdir -p "$keep"
		for name in source target; do
			[ -d "$RUN/$name" ] && cp -r "$RUN/$name/logs" "$keep/$name" 2>/dev/null && cp "$RUN/$name/console.log" "$keep/$name/" 2>/dev/null || true
		done
		log "down: kept the logs in $keep"
	fi
	rm -rf "$RUN"
	log "down: stopped and removed $RUN; $(since "$t0")"
}

check_name() {
	case "${1:-}" in source | target) ;; *) die "usage: $0 stop|start source|target" ;; esac
	[ -f "$RUN/$1/server.properties" ] || die "$1 was never started here (no $RUN/$1): run '$0 up' first"
}

# stop NAME / start NAME: one broker down and up again with its data, as a
# restart (the fault suite uses them).
cmd_stop() {
	check_name "$@"
	stop_one "$1"
}

cmd_start() {
	check_name "$@"
	local name=$1 t0 port
	t0=$(now)
	need_lib
	if pid_of "$name" >/dev/null; then
		log "start: $name already runs (pid $(pid_of "$name"))"
		return 0
	fi
	port=$SOURCE_PORT
	[ "$name" = target ] && port=$TARGET_PORT
	build_ready
	start_broker "$name"
	"$BIN/ready" -bootstrap "127.0.0.1:$port" -pid "$(cat "$RUN/$name/pid")" -timeout "$READY_TIMEOUT" | sed "s/^/kafka: $name /" || {
		tail -n 40 "$RUN/$name/logs/server.log" 2>/dev/null || true
		die "$name did not become ready"
	}
	log "start: $name ready (pid $(cat "$RUN/$name/pid")) in $(since "$t0")"
}

cmd_status() {
	for name in source target; do
		if pid=$(pid_of "$name"); then
			log "$name: running (pid $pid)"
		else
			log "$name: not running"
		fi
	done
	[ -f "$RUN/env" ] && sed 's/^/kafka:   /' "$RUN/env" | grep -v PASSWORD || true
}

cmd_run() {
	[ $# -ge 1 ] || die "usage: $0 run CLASS [ARGS...]"
	need_lib
	mkdir -p "$RUN/tools"
	[ -f "$RUN/tools/log4j2.xml" ] || write_log4j2 "$RUN/tools"
	java_args tools
	exec java "${JAVA_ARGS[@]}" "$@"
}

case "${1:-}" in
fetch) cmd_fetch ;;
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
stop)
	shift
	cmd_stop "$@"
	;;
start)
	shift
	cmd_start "$@"
	;;
run)
	shift
	cmd_run "$@"
	;;
*)
	sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
