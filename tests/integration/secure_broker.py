"""A local broker that accepts only SASL_SSL with SCRAM-SHA-512 and client certificates.

The certificates are made here with openssl (a CA, the broker's and a client's, the
client's key encrypted) and the broker's trust store with the JDK's keytool; the SCRAM
users are created by ``kafka-storage format --add-scram`` before the first start.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.kafka import ListenerSecurity, LocalKafka

STORE_PASSWORD = "store-secret"
BROKER_USER, BROKER_PASSWORD = "broker", "broker-scram-secret"
USER, PASSWORD = "orderhub", "orderhub-scram-secret"
KEY_PASSWORD = "client-key-secret"
MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class Certificates:
    ca: Path
    broker_keystore: Path
    truststore: Path
    client_cert: Path
    client_key: Path


def _run(*command: str, cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")


def _signed(name: str, subject: str, directory: Path, key_password: str | None) -> None:
    """``name``.key and ``name``.pem, signed by the CA in ``directory``; valid for 127.0.0.1."""
    key = ["-passout", f"pass:{key_password}"] if key_password else ["-noenc"]
    _run("openssl", "req", "-newkey", "rsa:2048", *key, "-keyout", f"{name}.key",
         "-out", f"{name}.csr", "-subj", subject, cwd=directory)  # fmt: skip
    (directory / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "2", "-out", f"{name}.pem",
         "-extfile", f"{name}.ext", cwd=directory)  # fmt: skip


def make_certificates(directory: Path) -> Certificates:
    """A CA, a broker key store (PKCS12) and trust store, a client certificate whose key
    is encrypted with ``KEY_PASSWORD``."""
    for tool in ("openssl", "keytool"):
        assert shutil.which(tool), f"{tool} is needed to make the test's certificates"
    directory.mkdir(parents=True, exist_ok=True)
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-noenc", "-keyout", "ca.key",
         "-out", "ca.pem", "-days", "2", "-subj", "/CN=orderhub-test-ca",
         cwd=directory)  # fmt: skip
    _signed("broker", "/CN=127.0.0.1", directory, None)
    _signed("client", "/CN=orderhub-client", directory, KEY_PASSWORD)
    _run("openssl", "pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key",
         "-certfile", "ca.pem", "-name", "broker", "-out", "broker.p12",
         "-passout", f"pass:{STORE_PASSWORD}", cwd=directory)  # fmt: skip
    _run("keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", "ca.pem",
         "-keystore", "truststore.p12", "-storetype", "PKCS12",
         "-storepass", STORE_PASSWORD, cwd=directory)  # fmt: skip
    return Certificates(
        ca=directory / "ca.pem",
        broker_keystore=directory / "broker.p12",
        truststore=directory / "truststore.p12",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
    )


def settings_values(certs: Certificates, password: str = PASSWORD) -> dict[str, Any]:
    """The OrderHub settings (field: value) of a client of this broker."""
    return {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": MECHANISM,
        "kafka_sasl_username": USER,
        "kafka_sasl_password": password,
        "kafka_ssl_cafile": str(certs.ca),
        "kafka_ssl_certfile": str(certs.client_cert),
        "kafka_ssl_keyfile": str(certs.client_key),
        "kafka_ssl_key_password": KEY_PASSWORD,
    }


def listener_security(certs: Certificates) -> ListenerSecurity:
    """SASL_SSL only, SCRAM-SHA-512 only, a client certificate required."""
    login = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{BROKER_USER}" password="{BROKER_PASSWORD}";'
    )
    properties = {
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config": login,
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(certs.broker_keystore),
        "ssl.keystore.password": STORE_PASSWORD,
        "ssl.key.password": STORE_PASSWORD,
        "ssl.truststore.type": "PKCS12",
        "ssl.truststore.location": str(certs.truststore),
        "ssl.truststore.password": STORE_PASSWORD,
        # On a SASL_SSL listener Kafka applies client auth only with the listener prefix.
        "listener.name.sasl_ssl.ssl.client.auth": "required",
    }
    users = [
        f"{MECHANISM}=[name={BROKER_USER},password={BROKER_PASSWORD}]",
        f"{MECHANISM}=[name={USER},password={PASSWORD}]",
    ]
    format_args = tuple(arg for user in users for arg in ("--add-scram", user))
    return ListenerSecurity("SASL_SSL", properties, format_args, client=_probe_options(certs))


def _probe_options(certs: Certificates) -> dict[str, Any]:
    from contract.settings import Settings
    from streams.clients.kafka_security import kafka_security

    return kafka_security(Settings(**settings_values(certs))).options()


def secure_broker(directory: Path) -> tuple[LocalKafka, Certificates]:
    """An unstarted ``LocalKafka`` in ``directory`` with its certificates made."""
    certs = make_certificates(directory / "certs")
    return LocalKafka(
        directory / "kafka", new_session=False, security=listener_security(certs)
    ), certs
