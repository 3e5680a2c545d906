#!/usr/bin/env bash
# Installs the demo shop into the local cluster, idempotently: what exists is left as it is (a
# deployment someone scaled stays scaled), what is missing is created. Namespaces shop-staging and
# shop-production; checkout (with an HPA) and cart as manifests, payments as a Helm release.
#   infra/demo-shop/install.sh            (scripts/start runs it against .data/kube/config)
set -euo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
here="$WH_ROOT/infra/demo-shop"
export KUBECONFIG=${KUBECONFIG:-$WH_KUBECONFIG}
for env in staging production; do
  # `create` leaves existing objects untouched (apply would reset replicas someone changed).
  if ! out=$(kubectl create -k "$here/$env" 2>&1); then
    errors=$(grep -v AlreadyExists <<<"$out" | grep -i error || true)
    [[ -z $errors ]] || die "could not install the demo shop in shop-$env: $errors"
  fi
  if ! helm status payments -n "shop-$env" >/dev/null 2>&1; then
    replicas=2; [[ $env == production ]] && replicas=4
    helm install payments "$here/payments" -n "shop-$env" --set replicaCount=$replicas >/dev/null
  fi
done
say "demo shop ready: shop-staging and shop-production (checkout, cart, payments)"
