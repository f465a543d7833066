# What a cluster has beyond its core, as kind and managed clusters have it: the CRDs the chart
# uses, CoreDNS, a storage provisioner, KEDA, and a Kafka the pods can reach. Sourced.

KEDA_ADAPTER_PORT=6444
VOLUMES_DIR=$CLUSTER_DIR/volumes

# render <manifest>: the file with its @TOKENS@ filled in, on stdout.
render() {
  sed -e "s|@COREDNS_IMAGE@|$COREDNS_IMAGE|g" \
    -e "s|@DEBIAN_IMAGE@|$DEBIAN_IMAGE|g" \
    -e "s|@DNS_SERVICE_IP@|$DNS_SERVICE_IP|g" \
    -e "s|@VOLUMES_DIR@|$VOLUMES_DIR|g" \
    -e "s|'@KEDA_ADAPTER_PORT@'|$KEDA_ADAPTER_PORT|g" \
    -e "s|@KEDA_CA_BUNDLE@|$(base64 -w0 "$PKI_DIR/keda-ca.crt")|g" \
    "$CLUSTER_SCRIPTS/manifests/$1"
}

# go_module_dir <module>@<version>: where Go keeps that module's files (downloaded if needed).
go_module_dir() {
  go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

# The Strimzi CRDs ship in no artifact this machine can fetch (the io.strimzi:api jar holds
# classes only), so they come from a folder: STRIMZI_CRDS_DIR, the copy a previous run left in the
# cache, or the shared recipe folder beside this clone. Prints nothing when none has them.
strimzi_crds_dir() {
  local cached=$SPILLWAY_CACHE/crds/strimzi-$STRIMZI_VERSION candidate
  for candidate in "${STRIMZI_CRDS_DIR:-}" "$cached" "$ROOT_DIR/../shared/k8s-recipe/crds/strimzi-$STRIMZI_VERSION"; do
    [ -n "$candidate" ] && [ -f "$candidate/040-Crd-kafka.yaml" ] || continue
    if [ "$candidate" != "$cached" ]; then
      mkdir -p "$cached" && cp "$candidate"/*.yaml "$cached/"
    fi
    echo "$cached"
    return 0
  done
}

crds_up() {
  local keda prom strimzi files=()
  keda=$(go_module_dir "github.com/kedacore/keda/v2@v$KEDA_VERSION")
  prom=$(go_module_dir "github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION")
  files+=("$keda"/config/crd/bases/*.yaml)
  files+=("$prom"/example/prometheus-operator-crd/monitoring.coreos.com_{servicemonitors,podmonitors,prometheusrules}.yaml)
  strimzi=$(strimzi_crds_dir)
  if [ -n "$strimzi" ]; then
    files+=("$strimzi"/*.yaml)
  else
    say "Strimzi CRDs not found (set STRIMZI_CRDS_DIR to a folder of Strimzi $STRIMZI_VERSION's 04*-Crd-*.yaml):"
    say "  the chart's kafka.create=true installs are refused by this cluster"
  fi
  local args=() f
  for f in "${files[@]}"; do args+=(-f "$f"); done
  # Server-side: the big CRDs do not fit the client-side last-applied annotation.
  kubectl apply --server-side --force-conflicts "${args[@]}" >/dev/null
  # A CRD just created has no conditions yet, which `kubectl wait` reports as an error: retry.
  wait_for 60 "CRDs established" kubectl wait --for=condition=Established crd --all --timeout=5s ||
    die "CRDs not established within 60 s"
  say "CRDs: KEDA $KEDA_VERSION, prometheus-operator $PROMETHEUS_OPERATOR_VERSION${strimzi:+, Strimzi $STRIMZI_VERSION}"
}

coredns_up() {
  render coredns.yaml | kubectl apply -f - >/dev/null
  # Ready means answering: its readiness probe is CoreDNS' own /ready.
  kubectl -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null &&
    kubectl -n kube-system wait --for=condition=Available deployment/coredns --timeout=60s >/dev/null ||
    die "CoreDNS did not become ready within 120 s (kubectl -n kube-system describe pod -l k8s-app=kube-dns)"
  say "CoreDNS: ready on $DNS_SERVICE_IP"
}

storage_up() {
  mkdir -p "$VOLUMES_DIR"
  render local-path.yaml | kubectl apply -f - >/dev/null
  local config=$CLUSTER_DIR/local-path
  mkdir -p "$config"
  kubectl -n local-path-storage get configmap local-path-config -o jsonpath='{.data.config\.json}' >"$config/config.json"
  kubectl -n local-path-storage get configmap local-path-config -o jsonpath='{.data.helperPod\.yaml}' >"$config/helper-pod.yaml"
  start_daemon local-path-provisioner "$LOCAL_PATH_BIN/local-path-provisioner" start \
    --kubeconfig="$KUBECONFIG_FILE" --namespace=local-path-storage \
    --config="$config/config.json" --helper-pod-file="$config/helper-pod.yaml" \
    --configmap-name=local-path-config --service-account-name=local-path-provisioner-service-account
  sleep 1
  assert_alive local-path-provisioner
  say "storage: StorageClass local-path (default), volumes in $VOLUMES_DIR"
}

keda_up() {
  local certs=$PKI_DIR/keda
  mkdir -p "$certs"
  cp "$PKI_DIR/keda-ca.crt" "$certs/ca.crt"
  cp "$PKI_DIR/keda.crt" "$certs/tls.crt"
  cp "$PKI_DIR/keda.key" "$certs/tls.key"
  render keda.yaml | kubectl apply -f - >/dev/null
  # As KEDA's own Deployments configure them, minus what only a pod has (cert rotation, patching
  # its webhook and APIService, leader election among replicas).
  start_daemon keda-operator env WATCH_NAMESPACE= POD_NAMESPACE=keda KEDA_CLUSTER_OBJECT_NAMESPACE=keda \
    OPERATOR_NAME=keda-operator "$KEDA_BIN/keda-operator" --kubeconfig="$KUBECONFIG_FILE" \
    --leader-elect=false --metrics-bind-address=127.0.0.1:18080 \
    --health-probe-bind-address=127.0.0.1:18081 --metrics-service-bind-address=127.0.0.1:9666 \
    --cert-dir="$certs" --ca-dir="$certs" --enable-cert-rotation=false \
    --enable-webhook-patching=false --enable-apiservice-patching=false --zap-log-level=info
  start_daemon keda-adapter env WATCH_NAMESPACE= POD_NAMESPACE=keda KEDA_CLUSTER_OBJECT_NAMESPACE=keda \
    "$KEDA_BIN/keda-adapter" --secure-port="$KEDA_ADAPTER_PORT" --bind-address=127.0.0.1 \
    --cert-dir="$certs" --tls-cert-file="$certs/tls.crt" --tls-private-key-file="$certs/tls.key" \
    --lister-kubeconfig="$KUBECONFIG_FILE" --authentication-kubeconfig="$KUBECONFIG_FILE" \
    --authorization-kubeconfig="$KUBECONFIG_FILE" --kubeconfig="$KUBECONFIG_FILE" \
    --metrics-service-address=127.0.0.1:9666 --port=18082 --v=1
  wait_for 90 "KEDA's external metrics API" \
    kubectl wait --for=condition=Available apiservice/v1beta1.external.metrics.k8s.io --timeout=1s || {
    assert_alive keda-operator
    assert_alive keda-adapter
    die "KEDA's APIService not Available within 90 s; see $LOG_DIR/keda-*.log"
  }
}

cluster_kafka() { # <up|down|status>: the project's own broker, listening on the bridge
  STACK_DIR=$CLUSTER_DIR KAFKA_HOST=$NODE_IP KAFKA_PORT=${CLUSTER_KAFKA#*:} KAFKA_CONTROLLER_PORT=19093 \
    bash "$ROOT_DIR/scripts/stack.sh" "$1" kafka
}

addons_down() {
  stop_daemon keda-adapter
  stop_daemon keda-operator
  stop_daemon local-path-provisioner
}
