# The cluster's certificates and kubeconfigs, made once with openssl into $PKI_DIR. Sourced.
#
# One identity per component, as kubeadm makes them, so the API server's authorizers see who is
# asking: the kubelet is system:node:<name> in system:nodes (the Node authorizer and the
# NodeRestriction admission plugin apply to it), kube-proxy is system:kube-proxy (bound to
# system:node-proxier by the default RBAC policy), and so on. KEDA and the storage provisioner run
# as the admin: they are the cluster's own infrastructure here, not workloads.

pki_up() {
  [ -f "$PKI_DIR/.complete" ] && return 0
  rm -rf "$PKI_DIR" && mkdir -p "$PKI_DIR"
  (cd "$PKI_DIR" && pki_make_all) || die "making the cluster's certificates failed"
  touch "$PKI_DIR/.complete"
  say "certificates and kubeconfigs: $PKI_DIR"
}

pki_make_all() {
  set -e
  pki_ca ca kubernetes-ca
  pki_ca front-proxy-ca front-proxy-ca
  pki_ca keda-ca keda-ca
  local server="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth"
  local client="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  pki_cert apiserver ca "/CN=kube-apiserver" "$server
subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$NODE_IP,IP:$API_SERVICE_IP"
  pki_cert kubelet ca "/CN=$NODE_NAME" "$server
subjectAltName=DNS:$NODE_NAME,IP:$NODE_IP"
  pki_cert admin ca "/O=system:masters/CN=spillway-admin" "$client"
  pki_cert controller-manager ca "/CN=system:kube-controller-manager" "$client"
  pki_cert scheduler ca "/CN=system:kube-scheduler" "$client"
  pki_cert kubelet-client ca "/O=system:nodes/CN=system:node:$NODE_NAME" "$client"
  pki_cert kube-proxy ca "/CN=system:kube-proxy" "$client"
  pki_cert apiserver-kubelet-client ca "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
  pki_cert front-proxy-client front-proxy-ca "/CN=front-proxy-client" "$client"
  # KEDA's operator and metrics adapter speak mTLS to each other with one certificate, and the
  # API server's aggregator checks the adapter's against the APIService's caBundle.
  pki_cert keda keda-ca "/CN=keda-operator" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:keda-operator.keda.svc.cluster.local,DNS:keda-metrics-apiserver.keda.svc"
  openssl genrsa -out service-accounts.key 2048 2>/dev/null
  openssl rsa -in service-accounts.key -pubout -out service-accounts.pub 2>/dev/null
  pki_kubeconfig admin
  pki_kubeconfig controller-manager
  pki_kubeconfig scheduler
  pki_kubeconfig kubelet-client
  pki_kubeconfig kube-proxy
}

pki_ca() { # <file> <common name>
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -days 3650 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" 2>/dev/null
}

pki_cert() { # <file> <ca file> <subject> <extensions>
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$3" 2>/dev/null
  printf '%s\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -out "$1.crt" \
    -days 3650 -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

pki_kubeconfig() { # <identity>: <identity>.kubeconfig with its embedded certificate
  cat >"$1.kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: spillway-local
    cluster:
      server: $API_SERVER
      certificate-authority-data: $(base64 -w0 ca.crt)
users:
  - name: $1
    user:
      client-certificate-data: $(base64 -w0 "$1.crt")
      client-key-data: $(base64 -w0 "$1.key")
contexts:
  - name: spillway-local
    context: { cluster: spillway-local, user: $1 }
current-context: spillway-local
KUBECONFIG
  chmod 600 "$1.kubeconfig"
}
