"""How every Kafka client of OrderHub connects: one reading of the security settings.

``kafka_security`` turns ``Settings`` into a ``KafkaSecurity`` value; ``client_config`` gives
its options to kafka-python (the CLI, the rule store, the tests) and to aiokafka (the
worker's gap reader and health checks), which take the same option names; ``streams.worker.app``
gives the same value to Faust as its credentials. One ``ssl.SSLContext`` carries the CA,
the client certificate and key, so no client reads a TLS file on its own.
"""

from __future__ import annotations

import asyncio
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from contract.settings import KafkaProtocol, Settings
from streams.exceptions import StreamsError

AUTH_FAILED = "authentication failed"
LOGIN_TIMEOUT_SECONDS = 5.0


class KafkaSecurityError(StreamsError):
    """The TLS files cannot be used (missing, unreadable, a wrong key password)."""


class AuthenticationFailed(KafkaSecurityError):
    """The broker refused the login: SASL credentials or mechanism, or the TLS handshake."""


@dataclass(frozen=True)
class SaslLogin:
    mechanism: str
    username: str
    password: SecretStr  # stays wrapped until a client needs the text

    def __repr__(self) -> str:
        return f"SaslLogin({self.mechanism}, {self.username})"


@dataclass(frozen=True)
class KafkaSecurity:
    """The security protocol, the SASL login (SASL_*) and the TLS context (*SSL)."""

    protocol: KafkaProtocol
    sasl: SaslLogin | None
    ssl_context: ssl.SSLContext | None

    def options(self) -> dict[str, Any]:
        """Security options as kafka-python and aiokafka both name them."""
        config: dict[str, Any] = {"security_protocol": self.protocol}
        if self.sasl is not None:
            config.update(
                sasl_mechanism=self.sasl.mechanism,
                sasl_plain_username=self.sasl.username,
                sasl_plain_password=self.sasl.password.get_secret_value(),
            )
        if self.ssl_context is not None:
            config["ssl_context"] = self.ssl_context
        return config


def kafka_security(settings: Settings) -> KafkaSecurity:
    """The connection security that ``settings`` ask for; TLS files are read here, once."""
    protocol = settings.kafka_protocol
    sasl = None
    if protocol.startswith("SASL_"):
        # Settings refuse SASL_* without a username and a password.
        assert settings.kafka_sasl_username and settings.kafka_sasl_password is not None
        sasl = SaslLogin(
            settings.kafka_sasl_mechanism,
            settings.kafka_sasl_username,
            settings.kafka_sasl_password,
        )
    context = tls_context(settings) if protocol.endswith("SSL") else None
    return KafkaSecurity(protocol, sasl, context)


def client_options(settings: Settings, bootstrap: str) -> dict[str, Any]:
    """Connection options of every kafka-python and aiokafka client (no I/O but the TLS
    files); ``streams.clients.kafka_io.client_config`` checks the login first."""
    return {"bootstrap_servers": servers(bootstrap), **kafka_security(settings).options()}


def servers(bootstrap: str) -> list[str]:
    return [server.strip() for server in bootstrap.split(",") if server.strip()]


# (bootstrap, settings) whose login the broker accepted in this process.
_logged_in: set[tuple[str, Settings]] = set()


def check_login(settings: Settings, bootstrap: str, timeout: float = LOGIN_TIMEOUT_SECONDS) -> None:
    """Raise a one-line ``AuthenticationFailed`` when the broker refuses our login.

    kafka-python retries a refused login until its bootstrap timeout (30 s) and then says
    only "Unable to bootstrap"; aiokafka logs it and says the same. One connection with
    the login, once per process and cluster, tells the cause in well under a second. A
    broker that does not answer is left to the clients' own errors, as is PLAINTEXT."""
    security = kafka_security(settings)
    if security.protocol == "PLAINTEXT" or (bootstrap, settings) in _logged_in:
        return
    # In a thread with its own event loop: a caller may run inside one (the webhook).
    with ThreadPoolExecutor(1) as pool:
        refused = pool.submit(asyncio.run, _login(security, servers(bootstrap), timeout))
        why = refused.result()
    if why is not None:
        raise AuthenticationFailed(f"{AUTH_FAILED}: {why}")
    _logged_in.add((bootstrap, settings))


async def _login(security: KafkaSecurity, addresses: list[str], timeout: float) -> str | None:
    """Why the first broker that answers refuses the login; None when it accepts (or no
    broker answers: not a login problem)."""
    from aiokafka.conn import create_conn
    from aiokafka.errors import KafkaError

    ms = int(timeout * 1000)
    for address in addresses:
        host, _, port = address.rpartition(":")
        try:
            conn = await asyncio.wait_for(
                create_conn(host, int(port), request_timeout_ms=ms, **security.options()),
                timeout,
            )
        except (OSError, TimeoutError, KafkaError) as exc:
            why = refusal(security, address, exc)
            if why is not None:
                return why
            continue
        conn.close()
        return None
    return None


def tls_context(settings: Settings) -> ssl.SSLContext:
    """A client TLS context: the CA file (else the system's CAs), the client certificate."""
    cafile = settings.kafka_ssl_cafile
    try:
        context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    except (OSError, ssl.SSLError) as exc:
        raise KafkaSecurityError(
            f"cannot use ORDERHUB_KAFKA_SSL_CAFILE={cafile}: {_why(exc)}"
        ) from exc
    # A certificate for an IP address or an internal name may not match; that is a choice
    # the operator makes explicitly (the chain is still verified).
    context.check_hostname = settings.kafka_ssl_check_hostname
    certfile, keyfile = settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile
    if certfile is not None and keyfile is not None:
        password = settings.kafka_ssl_key_password
        try:
            context.load_cert_chain(
                certfile, keyfile, password=password.get_secret_value() if password else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise KafkaSecurityError(
                f"cannot use the client certificate ORDERHUB_KAFKA_SSL_CERTFILE={certfile} "
                f"with ORDERHUB_KAFKA_SSL_KEYFILE={keyfile} "
                f"(and ORDERHUB_KAFKA_SSL_KEY_PASSWORD): {_why(exc)}"
            ) from exc
    return context


def refusal(security: KafkaSecurity, address: str, exc: BaseException) -> str | None:
    """The one-line reason a login attempt at ``address`` failed, or None when ``exc`` says
    nothing about the login (no broker there, a timeout)."""
    from aiokafka import errors

    mechanism = security.sasl.mechanism if security.sasl else None
    if isinstance(exc, errors.SaslAuthenticationFailed):
        user = security.sasl.username if security.sasl else "?"
        return f"{address} refused user {user!r} ({mechanism}): {exc.args[0] if exc.args else exc}"
    if isinstance(exc, errors.UnsupportedSaslMechanismError):
        return (
            f"{address} does not offer SASL mechanism {mechanism} (ORDERHUB_KAFKA_SASL_MECHANISM)"
        )
    tls = exc if isinstance(exc, ssl.SSLError) else exc.__cause__
    if isinstance(tls, ssl.SSLError):
        return f"TLS handshake with {address} failed: {_tls_reason(tls)}"
    if isinstance(exc, errors.KafkaConnectionError) and isinstance(
        exc.__cause__, asyncio.IncompleteReadError
    ):
        # The broker hung up on the first request: it speaks another protocol there.
        return (
            f"{address} closed the connection at the handshake: does its listener use "
            f"{security.protocol}? (ORDERHUB_KAFKA_SECURITY_PROTOCOL)"
        )
    return None


def _tls_reason(exc: ssl.SSLError) -> str:
    reason = getattr(exc, "verify_message", None) or exc.reason or str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the broker's certificate is not trusted: {reason} (ORDERHUB_KAFKA_SSL_CAFILE)"
    if "CERTIFICATE" in str(reason).upper():
        return (
            f"the broker refused our client certificate: {reason} "
            "(ORDERHUB_KAFKA_SSL_CERTFILE, ORDERHUB_KAFKA_SSL_KEYFILE)"
        )
    return str(reason)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, ssl.SSLError):
        return exc.strerror
    return str(exc)
