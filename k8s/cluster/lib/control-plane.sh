# The control plane: etcd, kube-apiserver, kube-controller-manager and kube-scheduler as host
# processes, as `kubeadm` would configure them, minus what a single local node does not need
# (leader election, the cloud provider). Sourced.

control_plane_up() {
  local p=$PKI_DIR
  start_daemon etcd "$ETCD_BIN/etcd" --name="$NODE_NAME" --data-dir="$CLUSTER_DIR/etcd" \
    --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
    --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
    --initial-cluster="$NODE_NAME=http://127.0.0.1:2380" --listen-metrics-urls=http://127.0.0.1:2381 \
    --quota-backend-bytes=4294967296 \
    --unsafe-no-fsync=true # a throwaway development cluster: its data is not worth an fsync per write
  wait_for 60 etcd curl -sf http://127.0.0.1:2379/health || { assert_alive etcd; die "etcd did not answer within 60 s"; }

  # The API server listens on the bridge address only: pods reach it there through the
  # `kubernetes` Service, whose endpoint it writes itself (a loopback address could not be one).
  start_daemon kube-apiserver "$K8S_BIN/kube-apiserver" \
    --etcd-servers=http://127.0.0.1:2379 \
    --bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port=6443 \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --tls-cert-file="$p/apiserver.crt" --tls-private-key-file="$p/apiserver.key" \
    --client-ca-file="$p/ca.crt" \
    --kubelet-client-certificate="$p/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$p/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$p/ca.crt" \
    --kubelet-preferred-address-types=InternalIP \
    --authorization-mode=Node,RBAC \
    --enable-admission-plugins=NodeRestriction \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$p/service-accounts.pub" \
    --service-account-signing-key-file="$p/service-accounts.key" \
    --requestheader-client-ca-file="$p/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$p/front-proxy-client.crt" --proxy-client-key-file="$p/front-proxy-client.key" \
    --allow-privileged=true --profiling=false --v=1
  wait_for 120 kube-apiserver kubectl get --raw /readyz || {
    assert_alive kube-apiserver
    die "kube-apiserver not ready within 120 s; see $LOG_DIR/kube-apiserver.log"
  }

  start_daemon kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig="$p/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$p/controller-manager.kubeconfig" \
    --authorization-kubeconfig="$p/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10257 \
    --service-account-private-key-file="$p/service-accounts.key" --root-ca-file="$p/ca.crt" \
    --cluster-signing-cert-file="$p/ca.crt" --cluster-signing-key-file="$p/ca.key" \
    --use-service-account-credentials=true --leader-elect=false \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --controllers='*,bootstrapsigner,tokencleaner' \
    --v=1 # the HPA syncs every 15 s, as in any cluster: the scaling figures are not flattered
  start_daemon kube-scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig="$p/scheduler.kubeconfig" \
    --authentication-kubeconfig="$p/scheduler.kubeconfig" \
    --authorization-kubeconfig="$p/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false --v=1
  wait_for 60 kube-controller-manager curl -skf https://127.0.0.1:10257/healthz || assert_alive kube-controller-manager
  wait_for 60 kube-scheduler curl -skf https://127.0.0.1:10259/healthz || assert_alive kube-scheduler
}

control_plane_down() {
  local name
  for name in kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_daemon "$name"; done
}

control_plane_status() {
  local name state=0
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler; do
    if daemon_alive "$name"; then echo "$name: running"; else
      echo "$name: down"
      state=1
    fi
  done
  return $state
}
