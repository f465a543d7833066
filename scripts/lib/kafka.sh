# Apache Kafka for the local stack: one KRaft node (broker + controller) from Maven Central jars.
# Sourced by scripts/stack.sh after lib/common.sh.

KAFKA_HOST=${KAFKA_HOST:-127.0.0.1}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_HEAP=${KAFKA_HEAP:--Xms256m -Xmx1g}
KAFKA_DIR=$STACK_DIR/kafka
KAFKA_PID=$KAFKA_DIR/kafka.pid
KAFKA_POM=$ROOT_DIR/scripts/kafka/pom.xml
KAFKA_CLASSPATH=$KAFKA_DIR/classpath.txt

kafka_answers() { port_open "$KAFKA_HOST" "$KAFKA_PORT"; }

ensure_java_and_maven() {
  local missing=()
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  local major
  major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
  [ "${major%%.*}" -ge 17 ] 2>/dev/null || die "Kafka 4 needs Java 17 or newer (found: ${major:-none})"
}

# classpath_current FILE: FILE was resolved from the pom as it is now and every jar it names exists.
classpath_current() {
  [ -f "$1" ] && [ "$(cat "$1.sha" 2>/dev/null)" = "$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)" ] &&
    tr ':' '\n' <"$1" | while read -r jar; do [ -f "$jar" ] || exit 1; done
}

# Resolves the jars once; the classpath file is keyed on the pom, so editing the pom refetches.
# Later starts read the file and never touch the network. The file names jars in ~/.m2, so a
# second STACK_DIR (a private test broker) copies the default stack's file, or else resolves
# offline from ~/.m2 (about 2 s) and goes online only for jars that were never fetched.
kafka_classpath() {
  classpath_current "$KAFKA_CLASSPATH" && return 0
  mkdir -p "$KAFKA_DIR"
  local shared=$ROOT_DIR/.stack/kafka/classpath.txt
  if [ "$shared" != "$KAFKA_CLASSPATH" ] && classpath_current "$shared"; then
    cp "$shared" "$KAFKA_CLASSPATH"
    cp "$shared.sha" "$KAFKA_CLASSPATH.sha"
    return 0
  fi
  local resolve=(mvn -q -B -f "$KAFKA_POM" dependency:build-classpath -Dmdep.includeScope=runtime
    -Dmdep.outputFile="$KAFKA_CLASSPATH")
  if ! "${resolve[@]}" -o >"$KAFKA_DIR/maven.log" 2>&1; then
    say "resolving Kafka jars with Maven (first run only)"
    "${resolve[@]}" >"$KAFKA_DIR/maven.log" 2>&1 ||
      die "maven could not fetch Kafka; see $KAFKA_DIR/maven.log"
  fi
  sha256sum "$KAFKA_POM" | cut -d' ' -f1 >"$KAFKA_CLASSPATH.sha"
}

kafka_write_config() {
  cat >"$KAFKA_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
# One node: internal topics cannot have more replicas than brokers.
offsets.topic.replication.factor=1
# One node, one consumer of offsets: 50 partitions would only make its creation slower.
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# The 3 s default delays every first join of a consumer group; nothing to wait for on one node.
group.initial.rebalance.delay.ms=0
# Spillway creates its topics itself, as Strimzi's KafkaTopic does in the cluster.
auto.create.topics.enable=false
num.partitions=6
PROPS
}

# Runs a Kafka main class in place of the calling (sub)shell, so $! is the JVM's pid. With
# `in_session=setsid` set in that subshell, in a session of its own: a Ctrl-C in the terminal that
# started the stack (npm run dev) must not reach the broker, which stops after the services.
kafka_java() {
  # shellcheck disable=SC2086 # KAFKA_HEAP holds several JVM flags
  exec ${in_session:-} java $KAFKA_HEAP -Dlog4j2.configurationFile="$ROOT_DIR/scripts/kafka/log4j2.properties" \
    -Dkafka.logs.dir="$KAFKA_DIR" -cp "$(cat "$KAFKA_CLASSPATH")" "$@"
}

kafka_up() {
  if kafka_answers; then
    say "kafka already answering on $KAFKA_HOST:$KAFKA_PORT (reused)"
    return 0
  fi
  ensure_java_and_maven
  kafka_classpath
  kafka_write_config
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    # Static quorum (controller.quorum.voters): format without --standalone.
    (kafka_java kafka.tools.StorageTool format -t "$(kafka_java kafka.tools.StorageTool random-uuid)" \
      -c "$KAFKA_DIR/server.properties") >"$KAFKA_DIR/format.log" 2>&1 ||
      die "formatting Kafka storage failed; see $KAFKA_DIR/format.log"
  fi
  # A restart in the same STACK_DIR keeps its data (formatted only once, above). kafka_started
  # watches a fresh log; the previous one (last run, or the format) stays as server.log.1.
  [ -s "$KAFKA_DIR/server.log" ] && mv "$KAFKA_DIR/server.log" "$KAFKA_DIR/server.log.1"
  : >"$KAFKA_DIR/server.log"
  (in_session=setsid && kafka_java kafka.Kafka "$KAFKA_DIR/server.properties") </dev/null >"$KAFKA_DIR/stdout.log" 2>&1 &
  echo $! >"$KAFKA_PID"
  wait_until 90 "kafka on $KAFKA_HOST:$KAFKA_PORT" kafka_started ||
    die "kafka did not start within 90 s; see $KAFKA_DIR/server.log and $KAFKA_DIR/stdout.log"
  kafka_warm_group_coordinator
}

# A fresh broker creates __consumer_offsets on the first consumer-group request, and answers
# "coordinator not available" to group requests until that is done: asked here, once, so the first
# service or test asking about a group (GET /v1/stats, a worker joining) does not meet that window.
kafka_warm_group_coordinator() {
  [ -d "$ROOT_DIR/node_modules/kafkajs" ] || return 0
  (cd "$ROOT_DIR" && node -e '
    const { Kafka, logLevel } = require("kafkajs");
    const admin = new Kafka({ brokers: [process.argv[1]], logLevel: logLevel.NOTHING, retry: { retries: 10 } }).admin();
    admin.connect().then(() => admin.describeGroups(["spillway-stack-warmup"])).then(
      () => admin.disconnect(),
      (err) => { console.error(String(err)); process.exit(1); });
  ' "$KAFKA_HOST:$KAFKA_PORT") || die "kafka's group coordinator did not come up; see $KAFKA_DIR/server.log"
}

kafka_started() {
  pid_alive "$KAFKA_PID" || die "kafka exited; see $KAFKA_DIR/stdout.log"
  grep -q "Kafka Server started" "$KAFKA_DIR/server.log" && kafka_answers
}

kafka_down() { stop_pid kafka "$KAFKA_PID"; }

kafka_status() {
  if kafka_answers; then echo "kafka: up on $KAFKA_HOST:$KAFKA_PORT"; else echo "kafka: down"; fi
}
