"""The one settings class. Read once, in the shell (CLI, worker); never in ``dsl/`` or the core."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.merge import WINDOW_SECONDS


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
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    topic_prefix: str = "orderhub"
    topic_partitions: int = Field(3, ge=1, description="partitions of the input topics")
    reorder_window: float = Field(
        WINDOW_SECONDS,
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
    order_retention_days: float = Field(
        7.0,
        gt=0,
        description="days a closed order (cancelled, rejected, delivered and paid) stays in the "
        "live tables, in event time",
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
