#!/bin/sh
# `make integration`: the integration tests in two processes (pytest-xdist, a test file per
# process at a time) against one Kafka broker, so `make test` stays well under 20 minutes.
#   KAFKA_BOOTSTRAP_SERVERS set: that cluster (a given cluster, or CI's).
#   a Docker engine answers:    each process starts its testcontainers Kafka (tests/conftest.py).
#   otherwise:                  one local KRaft broker (deploy/kafka.py) for both, stopped at the end.
set -eu
BIN=${BIN:-.venv/bin}
if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ] && ! docker info >/dev/null 2>&1; then
    home=$(mktemp -d)
    trap 'ORDERHUB_HOME="$home" "$BIN/orderhub" kafka down >/dev/null 2>&1 || true; rm -rf "$home"' EXIT
    ORDERHUB_HOME="$home" "$BIN/orderhub" kafka up
    KAFKA_BOOTSTRAP_SERVERS=$(ORDERHUB_HOME="$home" "$BIN/orderhub" kafka status --format jsonl \
        | "$BIN/python" -c 'import json, sys; print(json.load(sys.stdin)["bootstrap"])')
    export KAFKA_BOOTSTRAP_SERVERS
fi
"$BIN/pytest" -q -n 2 --dist loadfile tests/integration -p no:cacheprovider --durations=15 "$@"
