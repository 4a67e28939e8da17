#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft) assembled from Maven Central jars.
#   scripts/kafka.sh start   fetch jars (cached), format storage once, start, wait for a real produce
#   scripts/kafka.sh stop    stop the broker by its PID
#   scripts/kafka.sh status  exit 0 when the broker answers
# Settings (environment): KAFKA_VERSION, KAFKA_HOME (default ./var/kafka), KAFKA_PORT (9092),
# KAFKA_CONTROLLER_PORT (9093), KAFKA_JARS (default ./.cache/kafka-<version>).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
version=${KAFKA_VERSION:-4.4.0}
log4j_version=${KAFKA_LOG4J_VERSION:-2.26.1}
home=${KAFKA_HOME:-$root/var/kafka}
jars=${KAFKA_JARS:-$root/.cache/kafka-$version}
port=${KAFKA_PORT:-9092}
cport=${KAFKA_CONTROLLER_PORT:-9093}
pidfile=$home/kafka.pid
logfile=$home/kafka.log

log() { echo "kafka.sh: $*" >&2; }

fetch_jars() {
  if [ -f "$jars/.complete" ]; then return; fi
  log "fetching Apache Kafka $version jars from Maven Central into $jars"
  mkdir -p "$jars"
  local pom
  pom=$(mktemp -d)/pom.xml
  cat >"$pom" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.privacy</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$log4j_version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$log4j_version</version></dependency>
  </dependencies>
</project>
POM
  mvn -B -q -f "$pom" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$jars"
  touch "$jars/.complete"
}

write_config() {
  mkdir -p "$home/data"
  cat >"$home/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$home/data
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
min.insync.replicas=1
PROPS
  cat >"$home/log4j2.properties" <<'L4J'
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.org.name = org.apache
logger.org.level = WARN
L4J
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }
stopping=$home/kafka.stopping
# A broker being stopped still answers for a few seconds: it is not "up", and a start waits for it to go.
being_stopped() { [ -f "$stopping" ] && kill -0 "$(cat "$stopping")" 2>/dev/null; }
wait_for_stop() {
  if ! being_stopped; then rm -f "$stopping"; return 0; fi
  log "an earlier broker (pid $(cat "$stopping")) is stopping; waiting for it"
  for _ in $(seq 1 90); do being_stopped || { rm -f "$stopping"; return 0; }; sleep 0.5; done
  log "the earlier broker (pid $(cat "$stopping")) did not stop within 45 s; stop it, then try again"
  exit 1
}

# Ready means a real produce succeeded, not merely an open port.
probe() {
  local py=${PYTHON:-python3}
  [ -x "$root/.venv/bin/python" ] && py=$root/.venv/bin/python
  "$py" "$root/scripts/kafka_probe.py" "127.0.0.1:$port" "$@"
}

start() {
  wait_for_stop
  if running && probe --timeout 10 >/dev/null 2>&1; then
    log "already up (pid $(cat "$pidfile")) on 127.0.0.1:$port"; return 0
  fi
  if ! running && probe --timeout 2 >/dev/null 2>&1; then
    log "a broker not started by this script already answers on 127.0.0.1:$port; using it"; return 0
  fi
  fetch_jars
  write_config
  if [ ! -f "$home/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java -cp "$jars/*" kafka.tools.StorageTool random-uuid)
    java -Dlog4j2.configurationFile="$home/log4j2.properties" -Dkafka.logs.dir="$home" \
      -cp "$jars/*" kafka.tools.StorageTool format --standalone -t "$cluster_id" \
      -c "$home/server.properties" >"$home/format.log" 2>&1 || { cat "$home/format.log" >&2; exit 1; }
  fi
  local t0=$SECONDS
  nohup java -Xms256m -Xmx512m -XX:+UseG1GC \
    -Dlog4j2.configurationFile="$home/log4j2.properties" -Dkafka.logs.dir="$home" \
    -cp "$jars/*" kafka.Kafka "$home/server.properties" >"$logfile" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 120); do
    if ! running; then
      log "broker exited during start; last lines of its logs:"; tail -n 40 "$logfile" "$home/server.log" >&2 || true
      exit 1
    fi
    if probe --timeout 5 >/dev/null 2>&1; then
      log "ready on 127.0.0.1:$port (pid $(cat "$pidfile")) after $((SECONDS - t0))s"; return 0
    fi
    sleep 1
  done
  log "broker did not accept a produce within 120s"; tail -n 40 "$home/server.log" >&2 || true
  exit 1
}

stop() {
  if running; then
    local pid; pid=$(cat "$pidfile")
    echo "$pid" >"$stopping"
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    rm -f "$stopping"
    # only if it still names the broker stopped here: a start that ran meanwhile has written its own
    if [ "$(cat "$pidfile" 2>/dev/null)" = "$pid" ]; then rm -f "$pidfile"; fi
    log "stopped (pid $pid)"
  else
    log "not running"
    # a stale pid file (its process is gone) goes; one naming a live process was written by a new start
    if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then rm -f "$pidfile"; fi
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) ! being_stopped && running && probe --timeout 5 ;;
  fetch) fetch_jars ;;
  reset) stop; rm -rf "$home/data"; log "storage wiped (every topic gone)"; start ;;
  *) echo "usage: $0 start|stop|status|fetch|reset" >&2; exit 2 ;;
esac
