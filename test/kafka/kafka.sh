#!/usr/bin/env bash
# Real Apache Kafka for the integration tests, from Maven Central jars only
# (test/kafka/pom.xml pins the version): no tarball, no Docker.
#
#   bash test/kafka/kafka.sh fetch    copy the jars into $KAFKA_CACHE/lib (skipped when up to date)
#   bash test/kafka/kafka.sh up       start the source and target clusters, wait until ready
#   bash test/kafka/kafka.sh down     stop both and remove their data (idempotent)
#   bash test/kafka/kafka.sh status   show what runs
#   bash test/kafka/kafka.sh stop NAME    stop a cluster (source, target) or one node (source2), keeping its data
#   bash test/kafka/kafka.sh kill NAME    SIGKILL a cluster or one node (a crash), keeping its data
#   bash test/kafka/kafka.sh start NAME   start a stopped cluster or node again and wait until it is ready
#   bash test/kafka/kafka.sh run CLASS ARGS...   any Kafka class on the same class path,
#                                     e.g. org.apache.kafka.tools.ProducerPerformance
#
# Two independent KRaft clusters on loopback, each of $KAFKA_BROKERS nodes
# (default 1) that are broker and controller in one process. With one node
# the node is named after its cluster (source, target); with more they are
# source1..N and target1..N (node.id 1..N), every node a controller voter.
# Node i (0-based) uses the cluster's ports plus 10*i:
#   source  PLAINTEXT 127.0.0.1:$KAFKA_SOURCE_PORT (39092), controller $KAFKA_SOURCE_CONTROLLER_PORT (39192)
#   target  PLAINTEXT 127.0.0.1:$KAFKA_TARGET_PORT (39093),
#           SASL_PLAINTEXT (SCRAM-SHA-256) 127.0.0.1:$KAFKA_TARGET_SASL_PORT (39094),
#           controller $KAFKA_TARGET_CONTROLLER_PORT (39193)
# With more than one node, topics default to replication factor 3 (at most
# the node count) and min.insync.replicas 2, internal topics too.
# With KAFKA_PROXY_OFFSET=N every node also listens on an EXTERNAL listener
# (PLAINTEXT) at its PLAINTEXT port + 3 but advertises it at that port + N:
# a TCP proxy the caller runs there (the fault suite's) sits between the
# clients that bootstrap from the advertised addresses and the brokers,
# while inter-broker traffic and the PLAINTEXT listener stay direct.
# SCRAM users on the target: admin/admin-secret (super user) and
# replicator/replicator-secret. Both clusters run the StandardAuthorizer with
# allow.everyone.if.no.acl.found=true, so ACL CRUD works and nobody is locked
# out; the PLAINTEXT principal (User:ANONYMOUS) is a super user.
#
# `up` writes $KAFKA_CACHE/run/env (KAFKA_SOURCE=, KAFKA_TARGET=,
# KAFKA_TARGET_SASL= (comma lists with several nodes), KAFKA_SCRAM_*,
# KAFKA_BROKERS=, KAFKA_SOURCE_NODES=, with a proxy KAFKA_SOURCE_EXTERNAL=
# and KAFKA_SOURCE_ADVERTISED=, the same for the target), which the suites read.
# Logs: $KAFKA_CACHE/run/<node>/logs/server.log (log4j2) and
# $KAFKA_CACHE/run/<node>/console.log (JVM stdout/stderr).
#
# Environment: KAFKA_CACHE (default .cache/kafka under the repository root;
# the jars are in $KAFKA_CACHE/lib), KAFKA_RUN (default $KAFKA_CACHE/run),
# KAFKA_BROKERS (default 1), KAFKA_PROXY_OFFSET (default none),
# KAFKA_HEAP (default -Xmx512m), KAFKA_JVM_OPTS (default
# -XX:TieredStopAtLevel=1), KAFKA_READY_TIMEOUT (default 120s),
# KAFKA_STOP_TIMEOUT (seconds a clean stop may take before SIGKILL, default
# 30: the last node of a stopping cluster waits for a controller quorum
# that is gone), the
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
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
BROKERS=${KAFKA_BROKERS:-1}
PROXY_OFFSET=${KAFKA_PROXY_OFFSET:-}

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

case "$BROKERS" in [1-9]) ;; *) die "KAFKA_BROKERS must be 1..9, not '$BROKERS'" ;; esac

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

# --- nodes and ports -----------------------------------------------------------

# nodes CLUSTER: the node names of a cluster.
nodes() {
	if [ "$BROKERS" = 1 ]; then
		echo "$1"
	else
		local i out=""
		for i in $(seq 1 "$BROKERS"); do out="$out $1$i"; done
		echo "${out# }"
	fi
}

all_nodes() { echo "$(nodes source) $(nodes target)"; }

# node_cluster NODE / node_index NODE (0-based) / node_id NODE (1-based).
node_cluster() { echo "${1%%[0-9]*}"; }
node_index() {
	local n=${1##*[a-z]}
	[ -n "$n" ] && echo $((n - 1)) || echo 0
}
node_id() { echo $(($(node_index "$1") + 1)); }

# port NODE KIND: plain, controller, sasl (target only), external (where
# the broker listens for proxied clients), advertised (where the proxy
# listens).
port() {
	local node=$1 kind=$2 cluster i base
	cluster=$(node_cluster "$node")
	i=$(node_index "$node")
	case "$cluster:$kind" in
	source:plain | source:external | source:advertised) base=$SOURCE_PORT ;;
	source:controller) base=$SOURCE_CONTROLLER_PORT ;;
	target:plain | target:external | target:advertised) base=$TARGET_PORT ;;
	target:controller) base=$TARGET_CONTROLLER_PORT ;;
	target:sasl) base=$TARGET_SASL_PORT ;;
	*) die "no $kind port for $node" ;;
	esac
	base=$((base + 10 * i))
	case "$kind" in
	external) base=$((base + 3)) ;;
	advertised) base=$((base + 3 + PROXY_OFFSET)) ;;
	esac
	echo "$base"
}

# addrs CLUSTER KIND: the comma-separated 127.0.0.1:port list of a cluster.
addrs() {
	local out="" n
	for n in $(nodes "$1"); do out="$out,127.0.0.1:$(port "$n" "$2")"; done
	echo "${out#,}"
}

node_ports() {
	local n=$1
	port "$n" plain
	port "$n" controller
	[ "$(node_cluster "$n")" = target ] && port "$n" sasl
	[ -n "$PROXY_OFFSET" ] && port "$n" external
	return 0
}

# expand NAME: the nodes NAME stands for (a cluster's, or one node).
expand() {
	local name=${1:-} n
	case "$name" in source | target)
		nodes "$name"
		return
		;;
	esac
	for n in $(all_nodes); do
		[ "$n" = "$name" ] && { echo "$n"; return; }
	done
	die "unknown cluster or node '$name' (have: $(all_nodes))"
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

# write_config NODE: server.properties and log4j2.xml of one node.
write_config() {
	local node=$1 dir="$RUN/$1" cluster voters="" n rf isr listeners advertised map
	cluster=$(node_cluster "$node")
	for n in $(nodes "$cluster"); do voters="$voters,$(node_id "$n")@127.0.0.1:$(port "$n" controller)"; done
	rf=$((BROKERS < 3 ? BROKERS : 3))
	isr=$((rf > 1 ? 2 : 1))
	listeners="PLAINTEXT://127.0.0.1:$(port "$node" plain)"
	advertised="PLAINTEXT://127.0.0.1:$(port "$node" plain)"
	map="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
	if [ "$cluster" = target ]; then
		listeners="$listeners,SASL_PLAINTEXT://127.0.0.1:$(port "$node" sasl)"
		advertised="$advertised,SASL_PLAINTEXT://127.0.0.1:$(port "$node" sasl)"
		map="$map,SASL_PLAINTEXT:SASL_PLAINTEXT"
	fi
	if [ -n "$PROXY_OFFSET" ]; then
		listeners="$listeners,EXTERNAL://127.0.0.1:$(port "$node" external)"
		advertised="$advertised,EXTERNAL://127.0.0.1:$(port "$node" advertised)"
		map="$map,EXTERNAL:PLAINTEXT"
	fi
	mkdir -p "$dir"
	cat >"$dir/server.properties" <<EOF
# $node: node $(node_id "$node") of the $BROKERS-node KRaft cluster $cluster (broker and controller in one process)
process.roles=broker,controller
node.id=$(node_id "$node")
controller.quorum.voters=${voters#,}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listeners=$listeners,CONTROLLER://127.0.0.1:$(port "$node" controller)
advertised.listeners=$advertised
listener.security.protocol.map=$map
log.dirs=$dir/data
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
unclean.leader.election.enable=false
log.retention.check.interval.ms=60000
num.network.threads=2
num.io.threads=$((BROKERS > 1 ? 2 : 4))
num.recovery.threads.per.data.dir=1
# ACL CRUD works (StandardAuthorizer), nobody is locked out.
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=true
super.users=User:ANONYMOUS;User:$SCRAM_ADMIN_USER
EOF
	if [ "$cluster" = target ]; then
		cat >>"$dir/server.properties" <<EOF
sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
	fi
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

# new_cluster_id: a fresh, random cluster ID in the form of Kafka's
# Uuid.randomUuid() (16 random bytes, URL-safe base64, no padding, not
# starting with '-'), without a JVM start for `kafka-storage random-uuid`.
new_cluster_id() {
	local id=-
	while [ "${id#-}" != "$id" ]; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
	done
	echo "$id"
}

# format_storage NODE CLUSTER_ID [StorageTool options]
format_storage() {
	local node=$1 id=$2
	shift 2
	local dir="$RUN/$node"
	echo "$id" >"$dir/cluster-id"
	java_args "$node"
	java "${JAVA_ARGS[@]}" kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" "$@" \
		>>"$dir/console.log" 2>&1 || { tail -20 "$dir/console.log" >&2; die "$node: storage format failed"; }
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

# pids NODE...: their pids, comma-separated (for ready -pid).
pids() {
	local out="" n
	for n in "$@"; do out="$out,$(cat "$RUN/$n/pid" 2>/dev/null)"; done
	echo "${out#,}"
}

# wait_ready LABEL BOOTSTRAP PIDS [ready options]: every node of the
# cluster registered and a controller elected, seen from BOOTSTRAP.
wait_ready() {
	local label=$1 bootstrap=$2 p=$3
	shift 3
	"$BIN/ready" -bootstrap "$bootstrap" -brokers "$BROKERS" -pid "$p" -timeout "$READY_TIMEOUT" "$@" | sed "s/^/kafka: $label /"
}

cmd_up() {
	local t0 t n p
	t0=$(now)
	need_lib
	for n in $(all_nodes); do
		if pid_of "$n" >/dev/null; then
			die "$n is already running (pid $(pid_of "$n")); run '$0 down' first"
		fi
	done
	for n in $(all_nodes); do
		for p in $(node_ports "$n"); do
			port_busy "$p" && die "port $p on 127.0.0.1 is in use (another Kafka? '$0 down', or set KAFKA_*_PORT)"
		done
	done
	rm -rf "$RUN"
	mkdir -p "$RUN"
	log "up: $(kafka_version), $BROKERS node(s) per cluster, heap $HEAP, JVM options ${JVM_OPTS:-(none)}, run dir $RUN"
	t=$(now)
	build_ready &
	local ready_build=$! src_id tgt_id
	src_id=$(new_cluster_id)
	tgt_id=$(new_cluster_id)
	local fmt=()
	for n in $(all_nodes); do
		write_config "$n"
		# The formats are independent JVM starts: run them side by side.
		if [ "$(node_cluster "$n")" = source ]; then
			format_storage "$n" "$src_id" &
		else
			format_storage "$n" "$tgt_id" \
				--add-scram "SCRAM-SHA-256=[name=$SCRAM_ADMIN_USER,password=$SCRAM_ADMIN_PASS]" \
				--add-scram "SCRAM-SHA-256=[name=$SCRAM_USER,password=$SCRAM_PASS]" &
		fi
		fmt+=($!)
	done
	for p in "${fmt[@]}"; do wait "$p" || die "formatting the storage failed"; done
	wait "$ready_build" || die "building the readiness checker failed"
	log "up: storage formatted (source $src_id, target $tgt_id, SCRAM users $SCRAM_ADMIN_USER, $SCRAM_USER); $(since "$t")"
	t=$(now)
	for n in $(all_nodes); do start_broker "$n"; done
	log "up: started $(for n in $(all_nodes); do printf '%s (pid %s) ' "$n" "$(cat "$RUN/$n/pid")"; done)"
	local ok=1
	wait_ready source "$(addrs source plain)" "$(pids $(nodes source))" || ok=0
	[ "$ok" = 1 ] && { wait_ready target "$(addrs target plain)" "$(pids $(nodes target))" || ok=0; }
	[ "$ok" = 1 ] && { wait_ready "target (SASL_PLAINTEXT, SCRAM)" "$(addrs target sasl)" "$(pids $(nodes target))" \
		-scram-user "$SCRAM_USER" -scram-pass "$SCRAM_PASS" || ok=0; }
	if [ "$ok" != 1 ]; then
		for n in $(all_nodes); do
			log "--- tail of $RUN/$n/console.log"
			tail -n 30 "$RUN/$n/console.log" 2>/dev/null || true
			log "--- tail of $RUN/$n/logs/server.log"
			tail -n 40 "$RUN/$n/logs/server.log" 2>/dev/null || true
		done
		stop_nodes $(all_nodes)
		die "the clusters did not become ready"
	fi
	local first_src first_tgt
	first_src=$(nodes source | cut -d' ' -f1)
	first_tgt=$(nodes target | cut -d' ' -f1)
	{
		cat <<EOF
KAFKA_VERSION=$(kafka_version | cut -d' ' -f2)
KAFKA_BROKERS=$BROKERS
KAFKA_SOURCE=$(addrs source plain)
KAFKA_TARGET=$(addrs target plain)
KAFKA_TARGET_SASL=$(addrs target sasl)
KAFKA_SOURCE_NODES=$(nodes source)
KAFKA_TARGET_NODES=$(nodes target)
KAFKA_SCRAM_MECHANISM=SCRAM-SHA-256
KAFKA_SCRAM_ADMIN_USER=$SCRAM_ADMIN_USER
KAFKA_SCRAM_ADMIN_PASSWORD=$SCRAM_ADMIN_PASS
KAFKA_SCRAM_USER=$SCRAM_USER
KAFKA_SCRAM_PASSWORD=$SCRAM_PASS
KAFKA_SOURCE_PID=$(cat "$RUN/$first_src/pid")
KAFKA_TARGET_PID=$(cat "$RUN/$first_tgt/pid")
KAFKA_SOURCE_LOG=$RUN/$first_src/logs/server.log
KAFKA_TARGET_LOG=$RUN/$first_tgt/logs/server.log
EOF
		if [ -n "$PROXY_OFFSET" ]; then
			cat <<EOF
KAFKA_SOURCE_EXTERNAL=$(addrs source external)
KAFKA_SOURCE_ADVERTISED=$(addrs source advertised)
KAFKA_TARGET_EXTERNAL=$(addrs target external)
KAFKA_TARGET_ADVERTISED=$(addrs target advertised)
EOF
		fi
	} >"$RUN/env"
	log "up: both clusters ready in $(since "$t") after start; wrote $RUN/env"
	sed 's/^/kafka:   /' "$RUN/env" | grep -v PASSWORD
	log "up: done in $(since "$t0")"
}

# stop_one NODE [SIGNAL]: SIGTERM (a clean shutdown, up to
# $KAFKA_STOP_TIMEOUT s, then SIGKILL), or SIGKILL at once with KILL.
stop_one() {
	local name=$1 sig=${2:-TERM} pid
	pid=$(pid_of "$name") || { rm -f "$RUN/$name/pid"; return 0; }
	log "$([ "$sig" = KILL ] && echo kill || echo stop): $name (pid $pid)"
	if [ "$sig" = TERM ]; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 $((STOP_TIMEOUT * 10))); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "stop: $name did not stop within $STOP_TIMEOUT s; killing it"
		fi
	fi
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
	fi
	rm -f "$RUN/$name/pid"
}

# stop_nodes NODE...: all of them side by side.
stop_nodes() {
	local p=() n
	for n in "$@"; do
		stop_one "$n" &
		p+=($!)
	done
	for n in "${p[@]}"; do wait "$n" || true; done
}

# run_nodes: the nodes with a configuration in $RUN (whatever KAFKA_BROKERS
# says now).
run_nodes() {
	local d
	for d in "$RUN"/*/server.properties; do
		[ -f "$d" ] || continue
		d=${d%/server.properties}
		echo "${d##*/}"
	done
}

cmd_down() {
	local t0 n
	t0=$(now)
	if [ ! -d "$RUN" ]; then
		log "down: nothing runs ($RUN does not exist)"
		return 0
	fi
	# shellcheck disable=SC2046
	stop_nodes $(run_nodes)
	if [ -n "${KAFKA_KEEP_LOGS:-}" ]; then
		local keep="$CACHE/last-logs"
		rm -rf "$keep"
		mkdir -p "$keep"
		for n in $(run_nodes); do
			cp -r "$RUN/$n/logs" "$keep/$n" 2>/dev/null && cp "$RUN/$n/console.log" "$keep/$n/" 2>/dev/null || true
		done
		log "down: kept the logs in $keep"
	fi
	rm -rf "$RUN"
	log "down: stopped and removed $RUN; $(since "$t0")"
}

check_name() {
	[ -n "${1:-}" ] || die "usage: $0 stop|kill|start CLUSTER|NODE"
	local n
	for n in $(expand "$1"); do
		[ -f "$RUN/$n/server.properties" ] || die "$n was never started here (no $RUN/$n): run '$0 up' first"
	done
}

# stop NAME / kill NAME / start NAME: a cluster or one node down and up
# again with its data, as a restart or a crash (the fault suite uses them).
cmd_stop() {
	check_name "$@"
	# shellcheck disable=SC2046
	stop_nodes $(expand "$1")
}

cmd_kill() {
	check_name "$@"
	local n
	for n in $(expand "$1"); do stop_one "$n" KILL; done
}

cmd_start() {
	check_name "$@"
	local t0 n started=() cluster
	t0=$(now)
	need_lib
	build_ready
	for n in $(expand "$1"); do
		if pid_of "$n" >/dev/null; then
			log "start: $n already runs (pid $(pid_of "$n"))"
			continue
		fi
		start_broker "$n"
		started+=("$n")
	done
	[ ${#started[@]} -gt 0 ] || return 0
	cluster=$(node_cluster "${started[0]}")
	# Ready when every node of the cluster is registered, as the started
	# nodes themselves see it (they answer metadata once caught up).
	local bootstrap=""
	for n in "${started[@]}"; do bootstrap="$bootstrap,127.0.0.1:$(port "$n" plain)"; done
	wait_ready "$1" "${bootstrap#,}" "$(pids "${started[@]}")" || {
		for n in "${started[@]}"; do tail -n 40 "$RUN/$n/logs/server.log" 2>/dev/null || true; done
		die "$1 did not become ready"
	}
	log "start: ${started[*]} of $cluster ready (pid $(pids "${started[@]}")) in $(since "$t0")"
}

cmd_status() {
	local n pid
	for n in $(run_nodes); do
		if pid=$(pid_of "$n"); then
			log "$n: running (pid $pid)"
		else
			log "$n: not running"
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
stop | kill | start)
	c=$1
	shift
	"cmd_$c" "$@"
	;;
run)
	shift
	cmd_run "$@"
	;;
*)
	sed -n '2,47p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
