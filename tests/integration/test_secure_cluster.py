"""A secured cluster: a broker that accepts only SASL_SSL with SCRAM-SHA-512 and a client
certificate. The whole pipeline runs against it, and a wrong password is told at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration import secure_broker as sb
from tests.integration.stream_harness import Worker, free_port, lines
from tests.integration.test_live_alerts import SLA_RULE

pytestmark = pytest.mark.integration

MON = "2026-11-02T{}:00+08:00"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, sb.Certificates]]:
    """The secured broker's address and the certificates its clients use."""
    broker, certs = sb.secure_broker(tmp_path_factory.mktemp("secure"))
    result = broker.up()
    try:
        yield result.state.bootstrap, certs
    finally:
        broker.down()


def order(oid: str, type_: str, at: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": f"{oid}-{type_}",
        "type": type_,
        "event_time": at,
        "source": "erp",
        "order_id": oid,
        "region": "north",
        "model": "X1",
        **fields,
    }


def test_the_pipeline_runs_on_a_sasl_ssl_scram_cluster(
    secured: tuple[str, sb.Certificates], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap, certs = secured
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "sla.rule").write_text(SLA_RULE, encoding="utf-8")
    monkeypatch.setenv("ORDERHUB_RULES_DIR", str(rules))
    worker = Worker(bootstrap=bootstrap, home=tmp_path / "home", security=sb.settings_values(certs))
    worker.start()
    try:
        worker.publish(
            lines(
                [
                    order("A", "order.confirmed", MON.format("08:00"), quantity=10, amount="5"),
                    order("B", "order.confirmed", MON.format("08:30"), quantity=4, amount="2"),
                    order("O1", "order.received", MON.format("09:00"), quantity=1, amount="1"),
                    order("O1", "order.entered", MON.format("09:20"), quantity=1, amount="1"),
                    order("O2", "order.received", MON.format("09:00"), quantity=1, amount="1"),
                    # Event time moves past O2's deadline: its alert fires.
                    order("A", "order.delivered", MON.format("12:00"), quantity=3),
                ]
            )
        )
        worker.caught_up()
        assert worker.qty("in_transit_region") == {"north": 11}
        assert worker.qty("in_transit_model") == {"X1": 11}
        records = worker.read(worker.topics.alerts, count=1, timeout=60)
        alerts = [json.loads(r.value) for r in records]
        assert [(a["rule_id"], a["key"]["order_id"], a["status"], a["at"]) for a in alerts] == [
            ("SLA-1", "O2", "firing", "2026-11-02T10:00:00+08:00")
        ]
    finally:
        worker.stop()
    log = (tmp_path / "home" / "worker.log").read_text(errors="replace")
    for secret in (sb.PASSWORD, sb.KEY_PASSWORD):
        assert secret not in log


def orderhub(
    args: list[str], bootstrap: str, home: Path, security: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ORDERHUB_KAFKA_")}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        ORDERHUB_HOME=str(home),
        ORDERHUB_WEB_PORT=str(free_port()),
    )
    env.update({f"ORDERHUB_{name.upper()}": str(value) for name, value in security.items()})
    script = Path(sys.executable).with_name("orderhub")
    # Generous: the point is the message; kafka-python alone would retry for 30 s first.
    return subprocess.run(
        [str(script), *args], env=env, capture_output=True, text=True, timeout=120
    )


WRONG = "not-the-password"


def refused(bootstrap: str) -> str:
    return (
        f"authentication failed: {bootstrap} refused user 'orderhub' (SCRAM-SHA-512): "
        "Authentication failed during authentication due to invalid credentials with SASL "
        "mechanism SCRAM-SHA-512"
    )


def test_a_wrong_password_ends_worker_start_with_authentication_failed(
    secured: tuple[str, sb.Certificates], tmp_path: Path
) -> None:
    bootstrap, certs = secured
    done = orderhub(
        ["worker", "start"], bootstrap, tmp_path / "home", sb.settings_values(certs, WRONG)
    )

    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        f"orderhub worker: cannot start: {refused(bootstrap)}"
    ]
    assert WRONG not in done.stdout + done.stderr


def test_cli_commands_that_talk_to_kafka_say_authentication_failed(
    secured: tuple[str, sb.Certificates], tmp_path: Path
) -> None:
    bootstrap, certs = secured
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(order("A", "order.confirmed", MON.format("08:00"))) + "\n")
    wrong = sb.settings_values(certs, WRONG)
    for args in (["produce", str(events)], ["topics", "create"], ["alerts", "tail"]):
        done = orderhub(args, bootstrap, tmp_path / "home", wrong)
        assert (done.returncode, done.stderr.splitlines()) == (
            1,
            [f"orderhub: {refused(bootstrap)}"],
        ), args


def test_a_client_without_a_certificate_or_the_ca_is_refused_in_one_line(
    secured: tuple[str, sb.Certificates], tmp_path: Path
) -> None:
    bootstrap, certs = secured
    good = sb.settings_values(certs)
    done = orderhub(["topics", "create"], bootstrap, tmp_path / "home", good)
    assert done.returncode == 0, done.stderr

    no_cert = {k: v for k, v in good.items() if "certfile" not in k and "key" not in k}
    done = orderhub(["topics", "create"], bootstrap, tmp_path / "home", no_cert)
    assert (done.returncode, len(done.stderr.splitlines())) == (1, 1), done.stderr
    assert done.stderr.startswith(
        f"orderhub: authentication failed: TLS handshake with {bootstrap} failed: "
        "the broker refused our client certificate"
    ), done.stderr

    no_ca = {k: v for k, v in good.items() if k != "kafka_ssl_cafile"}
    done = orderhub(["topics", "create"], bootstrap, tmp_path / "home", no_ca)
    assert (done.returncode, done.stderr.splitlines()) == (
        1,
        [
            f"orderhub: authentication failed: TLS handshake with {bootstrap} failed: "
            "the broker's certificate is not trusted: self-signed certificate in certificate "
            "chain (ORDERHUB_KAFKA_SSL_CAFILE)"
        ],
    )
