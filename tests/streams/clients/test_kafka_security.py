"""Security settings -> each client's options: the same for kafka-python, aiokafka and Faust."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import errors as aio_errors
from pydantic import ValidationError

from contract.settings import Settings
from deploy.kafka import ListenerSecurity, server_properties
from streams.clients.kafka_security import (
    KafkaSecurityError,
    check_login,
    client_options,
    kafka_security,
    refusal,
)
from streams.worker.app import _credentials
from streams.worker.control import bad_settings
from tests.integration import secure_broker as sb


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> sb.Certificates:
    return sb.make_certificates(tmp_path_factory.mktemp("certs"))


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def refusal_of(values: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        settings(**values)
    return bad_settings(caught.value)


def test_without_security_settings_clients_connect_in_plaintext() -> None:
    assert client_options(settings(), "127.0.0.1:9092, 127.0.0.1:9093") == {
        "bootstrap_servers": ["127.0.0.1:9092", "127.0.0.1:9093"],
        "security_protocol": "PLAINTEXT",
    }
    assert _credentials(settings()) is None


def test_a_sasl_user_alone_still_means_sasl_plaintext_with_plain() -> None:
    options = client_options(
        settings(kafka_sasl_username="hub", kafka_sasl_password="pw"), "broker:9092"
    )
    assert options == {
        "bootstrap_servers": ["broker:9092"],
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "hub",
        "sasl_plain_password": "pw",
    }


def test_sasl_ssl_with_scram_and_a_client_certificate(certs: sb.Certificates) -> None:
    s = settings(**sb.settings_values(certs))
    options = client_options(s, "broker:9093")
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": ["broker:9093"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "orderhub",
        "sasl_plain_password": sb.PASSWORD,
    }
    assert isinstance(context, ssl.SSLContext)
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert context.cert_store_stats()["x509_ca"] == 1  # our CA, not the system's

    creds = _credentials(s)
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.protocol.value, creds.mechanism.value) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (creds.username, creds.password) == ("orderhub", sb.PASSWORD)
    assert creds.ssl_context is not None


def test_tls_alone_gives_faust_ssl_credentials(certs: sb.Certificates) -> None:
    s = settings(
        kafka_security_protocol="ssl",
        kafka_ssl_cafile=certs.ca,
        kafka_ssl_check_hostname=False,
    )
    options = client_options(s, "broker:9093")
    assert options["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in options
    assert options["ssl_context"].check_hostname is False
    creds = _credentials(s)
    assert isinstance(creds, faust.SSLCredentials)
    assert creds.protocol.value == "SSL"


def test_sasl_plaintext_with_scram_256_gives_faust_the_mechanism() -> None:
    creds = _credentials(
        settings(
            kafka_sasl_mechanism="scram-sha-256",
            kafka_sasl_username="hub",
            kafka_sasl_password="pw",
        )
    )
    assert (creds.protocol.value, creds.mechanism.value) == ("SASL_PLAINTEXT", "SCRAM-SHA-256")


@pytest.mark.parametrize(
    ("values", "why"),
    [
        (
            {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_password": "x"},
            "bad setting SASL_SSL needs ORDERHUB_KAFKA_SASL_USERNAME",
        ),
        (
            {"kafka_sasl_username": "hub"},
            "bad setting SASL_PLAINTEXT needs ORDERHUB_KAFKA_SASL_PASSWORD",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_certfile": "c.pem"},
            "bad setting ORDERHUB_KAFKA_SSL_CERTFILE and ORDERHUB_KAFKA_SSL_KEYFILE go together",
        ),
        (
            {"kafka_ssl_cafile": "ca.pem"},
            "bad setting ORDERHUB_KAFKA_SSL_* settings need ORDERHUB_KAFKA_SECURITY_PROTOCOL "
            "SSL or SASL_SSL, not PLAINTEXT",
        ),
    ],
)
def test_incomplete_security_settings_are_refused_naming_the_setting(
    values: dict[str, Any], why: str
) -> None:
    assert refusal_of(values) == why


def test_an_unknown_mechanism_is_refused() -> None:
    why = refusal_of({"kafka_sasl_mechanism": "GSSAPI"})
    assert why.startswith("bad setting ORDERHUB_KAFKA_SASL_MECHANISM='GSSAPI': Input should be")


def test_a_wrong_key_password_names_the_files_and_the_setting(certs: sb.Certificates) -> None:
    values = {**sb.settings_values(certs), "kafka_ssl_key_password": "wrong"}
    with pytest.raises(KafkaSecurityError) as caught:
        kafka_security(settings(**values))
    message = str(caught.value)
    assert message.startswith(
        f"cannot use the client certificate ORDERHUB_KAFKA_SSL_CERTFILE={certs.client_cert} "
        f"with ORDERHUB_KAFKA_SSL_KEYFILE={certs.client_key} (and ORDERHUB_KAFKA_SSL_KEY_PASSWORD)"
    )
    assert "\n" not in message
    assert "wrong" not in message.replace("ORDERHUB", "")


def test_a_missing_ca_file_names_the_setting(certs: sb.Certificates, tmp_path: Path) -> None:
    values = {**sb.settings_values(certs), "kafka_ssl_cafile": tmp_path / "nope.pem"}
    with pytest.raises(KafkaSecurityError) as caught:
        kafka_security(settings(**values))
    assert str(caught.value) == (
        f"cannot use ORDERHUB_KAFKA_SSL_CAFILE={tmp_path / 'nope.pem'}: No such file or directory"
    )


def test_secrets_stay_out_of_reprs(certs: sb.Certificates) -> None:
    s = settings(**sb.settings_values(certs))
    security = kafka_security(s)
    for text in (repr(s), str(s), repr(security), repr(_credentials(s))):
        assert sb.PASSWORD not in text
        assert sb.KEY_PASSWORD not in text


def test_plaintext_needs_no_login_check() -> None:
    check_login(settings(), "127.0.0.1:1")  # nothing listens there: no connection is made


def test_a_login_check_without_a_broker_leaves_the_error_to_the_clients() -> None:
    s = settings(kafka_sasl_username="hub", kafka_sasl_password="pw")
    check_login(s, "127.0.0.1:1", timeout=2.0)  # refused connection: not a login fault


@pytest.mark.parametrize(
    ("exc", "why"),
    [
        (
            aio_errors.SaslAuthenticationFailed("invalid credentials"),
            "b:9 refused user 'hub' (SCRAM-SHA-512): invalid credentials",
        ),
        (
            aio_errors.UnsupportedSaslMechanismError(),
            "b:9 does not offer SASL mechanism SCRAM-SHA-512 (ORDERHUB_KAFKA_SASL_MECHANISM)",
        ),
        (ConnectionRefusedError(111, "refused"), None),
        (TimeoutError(), None),
    ],
)
def test_login_refusals_are_told_apart_from_absent_brokers(
    exc: BaseException, why: str | None
) -> None:
    s = settings(
        kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="hub", kafka_sasl_password="pw"
    )
    assert refusal(kafka_security(s), "b:9", exc) == why


def test_a_listener_of_another_protocol_is_named() -> None:
    s = settings(kafka_sasl_username="hub", kafka_sasl_password="pw")
    exc = aio_errors.KafkaConnectionError("closed")
    exc.__cause__ = asyncio.IncompleteReadError(b"abc", 352518912)
    assert refusal(kafka_security(s), "b:9", exc) == (
        "b:9 closed the connection at the handshake: does its listener use SASL_PLAINTEXT? "
        "(ORDERHUB_KAFKA_SECURITY_PROTOCOL)"
    )


def test_a_secured_local_broker_names_its_listener_after_the_protocol() -> None:
    security = ListenerSecurity("SASL_SSL", {"sasl.enabled.mechanisms": "SCRAM-SHA-512"})
    text = server_properties(39092, 39093, Path("/d"), security)
    props = dict(line.split("=", 1) for line in text.splitlines() if not line.startswith("#"))
    assert props["listeners"] == "SASL_SSL://127.0.0.1:39092,CONTROLLER://127.0.0.1:39093"
    assert props["advertised.listeners"] == "SASL_SSL://127.0.0.1:39092"
    assert props["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT"
    assert props["inter.broker.listener.name"] == "SASL_SSL"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert server_properties(39092, 39093, Path("/d")) == server_properties(
        39092, 39093, Path("/d"), ListenerSecurity()
    )
