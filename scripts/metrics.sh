# shellcheck shell=bash
# The metrics stack, sourced by scripts/infra: Debian's Prometheus and Alertmanager (binaries run
# directly: the packages' systemd units play no part) and the demo shop's exporter
# (infra/demo-shop/exporter), all on 127.0.0.1, state under $WH_DATA/prometheus and
# $WH_DATA/alertmanager. Configs come from infra/prometheus, rendered with the ports of env.sh;
# Alertmanager delivers to the gateway `npm start` runs, with the token in
# $WH_ALERT_WEBHOOK_TOKEN_FILE (scripts/start hands the gateway the same file).

prometheus_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$WH_PROMETHEUS_PORT/-/ready" >/dev/null 2>&1; }
alertmanager_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$WH_ALERTMANAGER_PORT/-/ready" >/dev/null 2>&1; }
exporter_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$WH_EXPORTER_PORT/-/healthy" >/dev/null 2>&1; }
# The exporter reads the cluster scripts/cluster.sh runs, or the user's (KUBECONFIG).
exporter_kubeconfig() { echo "${KUBECONFIG:-$WH_KUBECONFIG}"; }

render_metrics_config() {
  PROMETHEUS="127.0.0.1:$WH_PROMETHEUS_PORT" ALERTMANAGER="127.0.0.1:$WH_ALERTMANAGER_PORT" \
    EXPORTER="127.0.0.1:$WH_EXPORTER_PORT" WEBHOOK_URL="$WH_ALERT_WEBHOOK_URL" \
    TOKEN_FILE="$WH_ALERT_WEBHOOK_TOKEN_FILE" bash "$WH_ROOT/infra/prometheus/render.sh" "$WH_DATA/prometheus/config"
  "${WH_PROMETHEUS_BIN%/*}/promtool" check config "$WH_DATA/prometheus/config/prometheus.yml" >/dev/null 2>&1 ||
    die "Prometheus refuses its config: run promtool check config $WH_DATA/prometheus/config/prometheus.yml"
}

up_metrics() {
  local bin
  for bin in "$WH_PROMETHEUS_BIN" "$WH_ALERTMANAGER_BIN"; do
    [[ -x $bin ]] || die "$bin is not installed: run scripts/setup (it installs Debian's prometheus and prometheus-alertmanager)"
  done
  mkdir -p "$WH_DATA/prometheus/data" "$WH_DATA/alertmanager/data"
  render_metrics_config
  local cfg=$WH_DATA/prometheus/config
  if [[ -n $(pid_of alertmanager) ]] && alertmanager_healthy; then
    curl -fsS -X POST "http://127.0.0.1:$WH_ALERTMANAGER_PORT/-/reload" >/dev/null 2>&1 || true
  else
    claim_port alertmanager "$WH_ALERTMANAGER_PORT" WH_ALERTMANAGER_PORT
    # --cluster.listen-address= : one instance, no gossip port.
    start_bg alertmanager "$WH_ALERTMANAGER_BIN" --config.file="$cfg/alertmanager.yml" \
      --storage.path="$WH_DATA/alertmanager/data" --web.listen-address="127.0.0.1:$WH_ALERTMANAGER_PORT" \
      --cluster.listen-address= --log.level=warn
    wait_for alertmanager 30 alertmanager_healthy
  fi
  # The exporter needs a cluster: after up_cluster, and only when there is a kubeconfig to read.
  if [[ -f $(exporter_kubeconfig) ]] && ! { [[ -n $(pid_of demo-exporter) ]] && exporter_healthy; }; then
    [[ -n $(pid_of demo-exporter) ]] && down_one demo-exporter
    claim_port demo-exporter "$WH_EXPORTER_PORT" WH_EXPORTER_PORT
    KUBECONFIG=$(exporter_kubeconfig) WH_EXPORTER_PORT=$WH_EXPORTER_PORT \
      start_bg demo-exporter node --import tsx "$WH_ROOT/infra/demo-shop/exporter/main.ts"
    wait_for demo-exporter 60 exporter_healthy
  fi
  if [[ -n $(pid_of prometheus) ]] && prometheus_healthy; then
    # Rules or targets may have changed since it started.
    curl -fsS -X POST "http://127.0.0.1:$WH_PROMETHEUS_PORT/-/reload" >/dev/null 2>&1 || true
  else
    claim_port prometheus "$WH_PROMETHEUS_PORT" WH_PROMETHEUS_PORT
    start_bg prometheus "$WH_PROMETHEUS_BIN" --config.file="$cfg/prometheus.yml" \
      --storage.tsdb.path="$WH_DATA/prometheus/data" --storage.tsdb.retention.time=2d \
      --web.listen-address="127.0.0.1:$WH_PROMETHEUS_PORT" --web.enable-lifecycle --log.level=warn
    wait_for prometheus 60 prometheus_healthy
  fi
}

down_metrics() {
  local c; for c in prometheus demo-exporter alertmanager; do down_one "$c"; done
}

metrics_status() {
  local v
  v=$(curl -fsS --max-time 2 "http://127.0.0.1:$WH_PROMETHEUS_PORT/api/v1/status/buildinfo" 2>/dev/null | sed -n 's/.*"version":"\([^"]*\)".*/\1/p')
  row prometheus "127.0.0.1:$WH_PROMETHEUS_PORT" "${v:-?}" "$(prometheus_healthy && echo healthy || echo down)"
  v=$(curl -fsS --max-time 2 "http://127.0.0.1:$WH_ALERTMANAGER_PORT/api/v2/status" 2>/dev/null | sed -n 's/.*"version":"\([^"]*\)".*/\1/p')
  row alertmanager "127.0.0.1:$WH_ALERTMANAGER_PORT" "${v:-?}" "$(alertmanager_healthy && echo "healthy (to ${WH_ALERT_WEBHOOK_URL#http://})" || echo down)"
  row demo-exporter "127.0.0.1:$WH_EXPORTER_PORT" "(project's)" "$(exporter_healthy && echo healthy || echo down)"
}
