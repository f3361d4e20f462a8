#!/bin/sh
# `make monitoring-check`: the Prometheus config, the hub's alerting rules and their unit
# tests, and the Alertmanager example with the routes it promises.
set -eu
cd "$(dirname "$0")"
promtool check config prometheus.yml
promtool check rules alerts.yml
promtool test rules tests/*.yml
amtool check-config alertmanager.yml
route() {  # route EXPECTED LABEL=VALUE...
    expected=$1; shift
    amtool config routes test --config.file=alertmanager.yml --verify.receivers="$expected" "$@" >/dev/null 2>&1 \
        || { echo "alertmanager.yml: $* should go to $expected"; exit 1; }
}
route region-north alertname=CAP-2 severity=warning region=north
route region-west alertname=SLA-1 severity=warning region=west
route sales-managers-pager alertname=CAP-1 severity=critical region=south
route hub-operations-pager alertname=OrderHubWorkerDown severity=critical service=orderhub
route hub-operations alertname=OrderHubDeadLettersRising severity=warning service=orderhub
echo "monitoring: config, rules, rule tests and alert routes OK"
