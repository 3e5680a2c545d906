# Shared settings for the project's scripts. Every value can be overridden from the environment.
# shellcheck shell=bash
WH_ROOT=${WH_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
WH_DATA=${WH_DATA:-$WH_ROOT/.data}
WH_RUN=$WH_DATA/run
WH_LOGS=$WH_DATA/logs
WH_TOOLS_BIN=$WH_ROOT/.tools/bin
# Versioned Go builds live outside the clone so that a fresh clone (CI) reuses them.
WH_TOOLS_CACHE=${WH_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wheelhouse/tools}

NATS_VERSION=v2.14.5
TEMPORAL_VERSION=v1.5.1
OPA_VERSION=v1.22.2
HELM_VERSION=v3.22.0
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
# The local Kubernetes control plane (scripts/cluster.sh), built from the published modules.
KUBERNETES_VERSION=v1.34.4
ETCD_VERSION=v3.6.4
KWOK_VERSION=v0.7.0

WH_NATS_PORT=${WH_NATS_PORT:-4322}
WH_NATS_MONITOR_PORT=${WH_NATS_MONITOR_PORT:-8322}
# JetStream fsync: "always" (safe, the default: no acknowledged write lost on power loss) or a duration like 2m.
WH_NATS_SYNC=${WH_NATS_SYNC:-always}
# The local NATS users' nkey seeds (scripts/infra up writes them; tests and `npm start` connect with them).
export WH_NATS_AUTH=$WH_DATA/nats/auth
WH_TEMPORAL_PORT=${WH_TEMPORAL_PORT:-7322}
WH_TEMPORAL_UI_PORT=${WH_TEMPORAL_UI_PORT:-8323}
WH_MINIO_PORT=${WH_MINIO_PORT:-9322}
WH_MINIO_CONSOLE_PORT=${WH_MINIO_CONSOLE_PORT:-9323}
WH_MINIO_USER=${WH_MINIO_USER:-wheelhouse}
WH_MINIO_PASSWORD=${WH_MINIO_PASSWORD:-wheelhouse-dev-only}
WH_ETCD_PORT=${WH_ETCD_PORT:-2322}
WH_ETCD_PEER_PORT=${WH_ETCD_PEER_PORT:-2323}
WH_KUBE_PORT=${WH_KUBE_PORT:-6322}
WH_KUBE_CM_PORT=${WH_KUBE_CM_PORT:-10322}
WH_KUBE_SCHED_PORT=${WH_KUBE_SCHED_PORT:-10323}
WH_KWOK_PORT=${WH_KWOK_PORT:-10324}
WH_KWOK_NODE=${WH_KWOK_NODE:-kwok-node-0}
WH_KWOK_POD_CIDR=${WH_KWOK_POD_CIDR:-10.244.0.1/16}
WH_KUBE_SERVICE_CIDR=${WH_KUBE_SERVICE_CIDR:-10.96.0.0/16}
WH_KUBE_SERVICE_IP=${WH_KUBE_SERVICE_IP:-10.96.0.1}
WH_KUBE_ADVERTISE=${WH_KUBE_ADVERTISE:-192.0.2.10}
WH_KUBECONFIG=${WH_KUBECONFIG:-$WH_DATA/kube/config}
# The metrics stack (scripts/infra): Debian's Prometheus and Alertmanager, the demo shop's exporter.
WH_PROMETHEUS_PORT=${WH_PROMETHEUS_PORT:-9422}
WH_ALERTMANAGER_PORT=${WH_ALERTMANAGER_PORT:-9423}
WH_EXPORTER_PORT=${WH_EXPORTER_PORT:-9424}
WH_PROMETHEUS_BIN=${WH_PROMETHEUS_BIN:-/usr/bin/prometheus}
WH_ALERTMANAGER_BIN=${WH_ALERTMANAGER_BIN:-/usr/bin/prometheus-alertmanager}
# Where Alertmanager delivers (the gateway `npm start` runs) and the bearer token both sides read.
WH_ALERT_WEBHOOK_URL=${WH_ALERT_WEBHOOK_URL:-http://127.0.0.1:8320/v1/hooks/alertmanager}
WH_ALERT_WEBHOOK_TOKEN_FILE=${WH_ALERT_WEBHOOK_TOKEN_FILE:-$WH_DATA/alertmanager/webhook-token}
WH_PG_URL=${WH_PG_URL:-postgres://postgres@127.0.0.1:5432}
WH_PG_DB=${WH_PG_DB:-wheelhouse}

export PATH="$WH_ROOT/node_modules/.bin:$WH_TOOLS_BIN:$PATH"

say() { printf '\033[1m%s\033[0m\n' "$*" >&2; }
warn() { printf '\033[33mwarning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }
