#!/usr/bin/env bash
# Renders the Prometheus and Alertmanager configs of infra/prometheus into OUT, replacing each
# @NAME@ with the address given in the environment (scripts/infra passes the local ports; compose's
# metrics-config job passes service names), and writes the webhook's bearer token (0600) once.
#   PROMETHEUS=host:port ALERTMANAGER=host:port EXPORTER=host:port WEBHOOK_URL=http://... \
#   TOKEN_FILE=/path render.sh OUT
set -euo pipefail
out=${1:?usage: render.sh OUT}
here=$(cd "$(dirname "$0")" && pwd)
for v in PROMETHEUS ALERTMANAGER EXPORTER WEBHOOK_URL TOKEN_FILE; do
  [[ -n ${!v:-} ]] || { echo "render.sh: $v is not set" >&2; exit 2; }
done
mkdir -p "$out/rules"
render() {
  sed -e "s|@PROMETHEUS@|$PROMETHEUS|g" -e "s|@ALERTMANAGER@|$ALERTMANAGER|g" -e "s|@EXPORTER@|$EXPORTER|g" \
    -e "s|@WEBHOOK_URL@|$WEBHOOK_URL|g" -e "s|@TOKEN_FILE@|$TOKEN_FILE|g" "$1" >"$2"
}
render "$here/prometheus.yml" "$out/prometheus.yml"
render "$here/alertmanager.yml" "$out/alertmanager.yml"
rm -f "$out"/rules/*.yml
cp "$here"/rules/*.yml "$out/rules/"
if [[ ! -s $TOKEN_FILE ]]; then
  mkdir -p "$(dirname "$TOKEN_FILE")"
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TOKEN_FILE")
fi
