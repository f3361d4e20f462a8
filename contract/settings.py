"""The one settings class. Read once, in the shell (CLI, worker); never in ``dsl/`` or the core."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Real seconds ingest holds a record for a silent source (streams.worker.merge).
REORDER_WINDOW_SECONDS = 2.0


KafkaProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class Settings(BaseSettings):
    """OrderHub settings, from ``ORDERHUB_*`` environment variables (and ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="ORDERHUB_", env_file=".env", extra="ignore", frozen=True
    )

    kafka_bootstrap_servers: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "ORDERHUB_KAFKA_BOOTSTRAP_SERVERS"
        ),
        description="an external cluster; unset means the local broker of `orderhub kafka up`",
    )
    kafka_security_protocol: KafkaProtocol | None = Field(
        None,
        description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; unset means PLAINTEXT, "
        "or SASL_PLAINTEXT when a SASL username is set",
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        "PLAIN", description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(
        None, description="PEM file of the CA(s) to trust; unset means the system's CAs"
    )
    kafka_ssl_certfile: Path | None = Field(
        None, description="PEM client certificate (chain), for mutual TLS"
    )
    kafka_ssl_keyfile: Path | None = Field(None, description="PEM private key of the certificate")
    kafka_ssl_key_password: SecretStr | None = Field(
        None, description="password of an encrypted private key"
    )
    kafka_ssl_check_hostname: bool = Field(
        True, description="check that the broker's certificate names the host connected to"
    )
    topic_prefix: str = "orderhub"
    topic_partitions: int = Field(3, ge=1, description="partitions of the input topics")
    reorder_window: float = Field(
        REORDER_WINDOW_SECONDS,
        ge=0,
        description="seconds ingest holds a record so input topics merge in event-time order",
    )
    replication_factor: int = Field(1, ge=1)
    home: Path = Field(Path(".orderhub"), description="local state: broker data, worker data")
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=1, le=65535)
    timezone: str = Field("Asia/Shanghai", description="business time zone of the rules")
    rules_dir: Path = Path("rules")
    webhook_token: SecretStr | None = None
    commit_interval: float = Field(
        2.8,
        gt=0,
        description="seconds between the worker's offset commits (Faust's "
        "broker_commit_interval): a crash repeats at most this much handled work",
    )
    order_retention_days: float = Field(
        7.0,
        gt=0,
        description="days a closed order (cancelled, rejected, delivered and paid) stays in the "
        "live tables, in event time",
    )
    assessment_months: int = Field(
        13,
        ge=1,
        description="months the assessment ledger and the daily shipping plan lines stay in the "
        "live tables besides the current one (business months, in event time)",
    )
    health_interval: float = Field(
        5.0, gt=0, description="seconds between the worker's health checks (broker, lag)"
    )
    stall_seconds: float = Field(
        60.0,
        gt=0,
        description="a partition with records waiting and no progress this long is stalled",
    )
    dead_letter_window: float = Field(
        900.0, gt=0, description="seconds over which health counts recent dead letters"
    )
    log_repeat_seconds: float = Field(
        30.0,
        gt=0,
        description="a repeated Kafka client error is logged once per this many seconds, "
        "with a count; also how often an unhealthy worker logs a summary",
    )

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        # `sasl_ssl` and `scram-sha-512` are what people type; Kafka's names are upper case.
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Settings:
        """Refuse a combination that can only fail at the broker, naming the setting."""
        protocol = self.kafka_protocol
        if protocol.startswith("SASL_") and not self.kafka_sasl_username:
            raise ValueError(f"{protocol} needs ORDERHUB_KAFKA_SASL_USERNAME")
        if protocol.startswith("SASL_") and self.kafka_sasl_password is None:
            raise ValueError(f"{protocol} needs ORDERHUB_KAFKA_SASL_PASSWORD")
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError(
                "ORDERHUB_KAFKA_SSL_CERTFILE and ORDERHUB_KAFKA_SSL_KEYFILE go together"
            )
        tls = self.kafka_ssl_cafile or self.kafka_ssl_certfile or self.kafka_ssl_key_password
        if tls and not protocol.endswith("SSL"):
            raise ValueError(
                f"ORDERHUB_KAFKA_SSL_* settings need ORDERHUB_KAFKA_SECURITY_PROTOCOL "
                f"SSL or SASL_SSL, not {protocol}"
            )
        return self

    @property
    def kafka_protocol(self) -> KafkaProtocol:
        """The security protocol in effect (the setting, or what its absence means)."""
        if self.kafka_security_protocol is not None:
            return self.kafka_security_protocol
        return "SASL_PLAINTEXT" if self.kafka_sasl_username else "PLAINTEXT"

    @model_validator(mode="after")
    def _stall_outlasts_the_reorder_window(self) -> Settings:
        # Ingest holds records for up to the reorder window by design; that is no stall.
        if self.stall_seconds <= self.reorder_window:
            raise ValueError(
                f"ORDERHUB_STALL_SECONDS ({self.stall_seconds:g}) must be longer than "
                f"ORDERHUB_REORDER_WINDOW ({self.reorder_window:g})"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
