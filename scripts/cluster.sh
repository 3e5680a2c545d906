# shellcheck shell=bash
# The local Kubernetes control plane, sourced by scripts/infra: etcd, kube-apiserver (RBAC on),
# kube-controller-manager, kube-scheduler and kwok with one fake node, all on 127.0.0.1, state and
# certificates under $WH_DATA/kube, and $WH_KUBECONFIG for kubectl, helm and the services.
# Nothing here talks to a pod or service address: kwok's pods have none that anything listens on.
# A user with a cluster of their own sets KUBECONFIG (or WH_CLUSTER=off) and none of this starts.

kube_bin() { echo "$WH_TOOLS_BIN/$1"; }
kube_dir() { echo "$WH_DATA/kube"; }

cluster_wanted() {
  [[ ${WH_CLUSTER:-on} != off ]] || return 1
  # Someone else's cluster: theirs wins, and the local one stays off.
  [[ -z ${KUBECONFIG:-} || $KUBECONFIG == "$WH_KUBECONFIG" ]]
}

kubectl_local() { "$(kube_bin kubectl)" --kubeconfig "$WH_KUBECONFIG" "$@"; }
etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$WH_ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'; }
apiserver_healthy() {
  local d; d=$(kube_dir)
  [[ $(curl -fsS --max-time 2 --cacert "$d/pki/ca.crt" --cert "$d/pki/admin.crt" --key "$d/pki/admin.key" \
    "https://127.0.0.1:$WH_KUBE_PORT/readyz" 2>/dev/null) == ok ]]
}
controller_manager_healthy() { [[ $(curl -fsSk --max-time 2 "https://127.0.0.1:$WH_KUBE_CM_PORT/healthz" 2>/dev/null) == ok ]]; }
scheduler_healthy() { [[ $(curl -fsSk --max-time 2 "https://127.0.0.1:$WH_KUBE_SCHED_PORT/healthz" 2>/dev/null) == ok ]]; }
kwok_healthy() {
  [[ -n $(pid_of kwok) ]] &&
    kubectl_local get node "$WH_KWOK_NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -q True
}

# --- certificates (openssl; a CA, the serving certificate, one client per component) -------------
kube_cert() { # name subject [server]
  local pki=$1 name=$2 subj=$3 server=${4:-}
  [[ -f $pki/$name.crt ]] && return 0
  openssl genrsa -out "$pki/$name.key" 2048 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  local ext="$pki/$name.ext"
  if [[ -n $server ]]; then
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$server" >"$ext"
  else
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$ext"
  fi
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$ext"
}

kube_kubeconfig() { # file user
  local d file=$1 user=$2; d=$(kube_dir)
  cat >"$file" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: wheelhouse-local
  cluster:
    server: https://127.0.0.1:$WH_KUBE_PORT
    certificate-authority: $d/pki/ca.crt
users:
- name: $user
  user:
    client-certificate: $d/pki/$user.crt
    client-key: $d/pki/$user.key
contexts:
- name: wheelhouse-local
  context: { cluster: wheelhouse-local, user: $user }
current-context: wheelhouse-local
KCFG
  chmod 600 "$file"
}

kube_pki() {
  local d pki; d=$(kube_dir); pki=$d/pki
  mkdir -p "$pki" && chmod 700 "$d" "$pki"
  if [[ ! -f $pki/ca.crt ]]; then
    openssl genrsa -out "$pki/ca.key" 2048 2>/dev/null
    openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=wheelhouse-local-ca" -days 3650 -sha256 -out "$pki/ca.crt" 2>/dev/null
  fi
  kube_cert "$pki" apiserver "/CN=kube-apiserver" \
    "IP:127.0.0.1,IP:$WH_KUBE_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  kube_cert "$pki" admin "/O=system:masters/CN=wheelhouse-admin"
  kube_cert "$pki" controller-manager "/CN=system:kube-controller-manager"
  kube_cert "$pki" scheduler "/CN=system:kube-scheduler"
  kube_cert "$pki" kwok "/O=system:masters/CN=kwok"
  kube_cert "$pki" front-proxy-client "/CN=front-proxy-client"
  if [[ ! -f $pki/sa.key ]]; then
    openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
    openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  fi
  chmod 600 "$pki"/*.key
  kube_kubeconfig "$WH_KUBECONFIG" admin
  kube_kubeconfig "$d/controller-manager.kubeconfig" controller-manager
  kube_kubeconfig "$d/scheduler.kubeconfig" scheduler
  kube_kubeconfig "$d/kwok.kubeconfig" kwok
}

# --- components --------------------------------------------------------------------------------
up_cluster() {
  cluster_wanted || return 0
  local c; for c in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do need_bin "$c"; done
  local d; d=$(kube_dir)
  kube_pki
  if ! { [[ -n $(pid_of etcd) ]] && etcd_healthy; }; then
    claim_port etcd "$WH_ETCD_PORT" WH_ETCD_PORT
    claim_port etcd-peer "$WH_ETCD_PEER_PORT" WH_ETCD_PEER_PORT
    mkdir -p "$d/etcd" && chmod 700 "$d/etcd"
    start_bg etcd "$(kube_bin etcd)" --name wheelhouse --data-dir "$d/etcd" \
      --listen-client-urls "http://127.0.0.1:$WH_ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$WH_ETCD_PORT" \
      --listen-peer-urls "http://127.0.0.1:$WH_ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$WH_ETCD_PEER_PORT" \
      --initial-cluster "wheelhouse=http://127.0.0.1:$WH_ETCD_PEER_PORT" --log-level warn \
      --quota-backend-bytes 1073741824 --unsafe-no-fsync=false
    wait_for etcd 30 etcd_healthy
  fi
  if ! { [[ -n $(pid_of kube-apiserver) ]] && apiserver_healthy; }; then
    claim_port kube-apiserver "$WH_KUBE_PORT" WH_KUBE_PORT
    # --advertise-address must not be loopback (the kubernetes Endpoints object refuses it), so it
    # names a documentation address (RFC 5737) that nothing ever connects to; the server binds 127.0.0.1.
    start_bg kube-apiserver "$(kube_bin kube-apiserver)" \
      --bind-address 127.0.0.1 --secure-port "$WH_KUBE_PORT" --advertise-address "$WH_KUBE_ADVERTISE" \
      --etcd-servers "http://127.0.0.1:$WH_ETCD_PORT" \
      --tls-cert-file "$d/pki/apiserver.crt" --tls-private-key-file "$d/pki/apiserver.key" \
      --client-ca-file "$d/pki/ca.crt" --authorization-mode Node,RBAC \
      --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$d/pki/sa.pub" \
      --service-account-signing-key-file "$d/pki/sa.key" --service-cluster-ip-range "$WH_KUBE_SERVICE_CIDR" \
      --requestheader-client-ca-file "$d/pki/ca.crt" --requestheader-allowed-names front-proxy-client \
      --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
      --requestheader-extra-headers-prefix X-Remote-Extra- \
      --proxy-client-cert-file "$d/pki/front-proxy-client.crt" --proxy-client-key-file "$d/pki/front-proxy-client.key" \
      --allow-privileged=true --profiling=false --v=0
    wait_for kube-apiserver 60 apiserver_healthy
  fi
  if ! { [[ -n $(pid_of kube-controller-manager) ]] && controller_manager_healthy; }; then
    claim_port kube-controller-manager "$WH_KUBE_CM_PORT" WH_KUBE_CM_PORT
    start_bg kube-controller-manager "$(kube_bin kube-controller-manager)" \
      --kubeconfig "$d/controller-manager.kubeconfig" --authentication-kubeconfig "$d/controller-manager.kubeconfig" \
      --authorization-kubeconfig "$d/controller-manager.kubeconfig" \
      --bind-address 127.0.0.1 --secure-port "$WH_KUBE_CM_PORT" --leader-elect=false \
      --service-account-private-key-file "$d/pki/sa.key" --root-ca-file "$d/pki/ca.crt" \
      --use-service-account-credentials --cluster-signing-cert-file "$d/pki/ca.crt" \
      --cluster-signing-key-file "$d/pki/ca.key" --controllers '*,-nodeipam' --profiling=false --v=0
    wait_for kube-controller-manager 60 controller_manager_healthy
  fi
  if ! { [[ -n $(pid_of kube-scheduler) ]] && scheduler_healthy; }; then
    claim_port kube-scheduler "$WH_KUBE_SCHED_PORT" WH_KUBE_SCHED_PORT
    start_bg kube-scheduler "$(kube_bin kube-scheduler)" \
      --kubeconfig "$d/scheduler.kubeconfig" --authentication-kubeconfig "$d/scheduler.kubeconfig" \
      --authorization-kubeconfig "$d/scheduler.kubeconfig" \
      --bind-address 127.0.0.1 --secure-port "$WH_KUBE_SCHED_PORT" --leader-elect=false --profiling=false --v=0
    wait_for kube-scheduler 60 scheduler_healthy
  fi
  if [[ -z $(pid_of kwok) ]]; then
    start_bg kwok "$(kube_bin kwok)" --kubeconfig "$d/kwok.kubeconfig" \
      --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake --cidr "$WH_KWOK_POD_CIDR" \
      --node-ip 127.0.0.1 --server-address "127.0.0.1:$WH_KWOK_PORT" --node-lease-duration-seconds 40
  fi
  # The fake node, without kwok's NoSchedule taint: the real scheduler places pods on it.
  kubectl_local apply -f - >/dev/null <<NODE
apiVersion: v1
kind: Node
metadata:
  name: $WH_KWOK_NODE
  annotations: { kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0" }
  labels: { kubernetes.io/hostname: $WH_KWOK_NODE, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok }
status:
  allocatable: { cpu: "64", memory: 256Gi, pods: "1000" }
  capacity: { cpu: "64", memory: 256Gi, pods: "1000" }
NODE
  wait_for kwok 60 kwok_healthy
  # Argo CD's Application kind (no Argo CD): the context service reads Application objects from it.
  kubectl_local apply -f "$WH_ROOT/infra/kube/argocd-application-crd.yaml" >/dev/null
}

down_cluster() {
  local c; for c in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do down_one "$c"; done
}

cluster_status() {
  if ! cluster_wanted; then
    row kubernetes "${KUBECONFIG:-}" "(yours)" "local cluster off"
    return 0
  fi
  local v
  v=$(curl -fsS --max-time 2 "http://127.0.0.1:$WH_ETCD_PORT/version" 2>/dev/null | sed -n 's/.*"etcdserver":"\([^"]*\)".*/\1/p')
  row etcd "127.0.0.1:$WH_ETCD_PORT" "${v:-?}" "$(etcd_healthy && echo healthy || echo down)"
  v=$(kubectl_local version -o json 2>/dev/null | sed -n '/serverVersion/,/}/s/.*"gitVersion": *"\([^"]*\)".*/\1/p')
  row kube-apiserver "127.0.0.1:$WH_KUBE_PORT" "${v:-?}" "$(apiserver_healthy && echo "healthy (kubeconfig .data/kube/config)" || echo down)"
  row controller-manager "127.0.0.1:$WH_KUBE_CM_PORT" "${v:-?}" "$(controller_manager_healthy && echo healthy || echo down)"
  row scheduler "127.0.0.1:$WH_KUBE_SCHED_PORT" "${v:-?}" "$(scheduler_healthy && echo healthy || echo down)"
  v=$("$(kube_bin kwok)" --version 2>/dev/null | awk '{print $3}')
  row kwok "127.0.0.1:$WH_KWOK_PORT" "${v:-$KWOK_VERSION}" "$(kwok_healthy && echo "healthy (node $WH_KWOK_NODE)" || echo down)"
}
