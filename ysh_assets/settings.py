"""Every connection setting, read from the environment with a documented default.

The README's settings table is the user-facing copy of this module; keep them in step.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dagster as dg


class ConfigurationError(ValueError):
    """A setting, resource or job configuration that cannot work. Bad data and unreachable sources raise
    `dagster.Failure` (with metadata) instead, at the asset that met them."""


PROFILES = ("local", "services")
SOURCES = ("live", "bundled")

DEFAULTS: dict[str, str] = {
    "YSH_PROFILE": "local",
    "YSH_DATA_DIR": "data",
    "YSH_PG_DSN": "postgresql://postgres@127.0.0.1:5432/postgres",
    "YSH_S3_ENDPOINT_URL": "",
    "YSH_S3_BUCKET": "ysh-data",
    "YSH_S3_PREFIX": "ysh",
    "YSH_REDIS_URL": "redis://127.0.0.1:6379/0",
    "YSH_QDRANT_URL": "http://127.0.0.1:6333",
    "YSH_OLLAMA_URL": "http://127.0.0.1:11434",
    "YSH_OLLAMA_MODEL": "llama3.2",
    "YSH_CKAN_URL": "https://dadosabertos.aneel.gov.br",
    "YSH_SOURCES": "live",
    "YSH_CATALOG_URLS": "",
    "YSH_CKAN_MIRRORS": "",
    "YSH_SOURCE_QUOTAS": '{"aneel_portal": 2000, "aneel_mirror": 2000, "catalog": 1000, "ollama": 20000}',
    "YSH_BREAKER_FAILURES": "5",
    "YSH_BREAKER_COOLDOWN_SECONDS": "300",
    "YSH_EMBEDDING_MODEL": "use-multilingual-v3",
    "YSH_ALERT_WEBHOOK_URL": "",
    "YSH_SMTP_HOST": "",
    "YSH_SMTP_PORT": "587",
    "YSH_SMTP_USER": "",
    "YSH_SMTP_PASSWORD": "",
    "YSH_SMTP_STARTTLS": "true",
    "YSH_ALERT_EMAIL_FROM": "ysh-alerts@localhost",
    "YSH_ALERT_EMAIL_TO": "",
    "YSH_DAGSTER_UI_URL": "http://127.0.0.1:3000",
}


@dataclass(frozen=True)
class Settings:
    profile: str
    data_dir: Path
    pg_dsn: str
    s3_endpoint_url: str
    s3_bucket: str
    s3_prefix: str
    redis_url: str
    qdrant_url: str
    ollama_url: str
    ollama_model: str
    ckan_url: str
    sources: str
    catalog_urls: dict[str, list[str]]  # distributor -> the URLs of its files, instead of catalogs/<distributor>/
    embedding_model: str = DEFAULTS["YSH_EMBEDDING_MODEL"]
    # Quotas, breakers and failover (ysh_assets/ops/quotas.py).
    ckan_mirrors: tuple[str, ...] = ()  # CKAN base URLs tried, in order, after YSH_CKAN_URL
    source_quotas: dict[str, int] = field(default_factory=dict)  # source or kind -> requests per day
    breaker_failures: int = int(DEFAULTS["YSH_BREAKER_FAILURES"])
    breaker_cooldown_seconds: float = float(DEFAULTS["YSH_BREAKER_COOLDOWN_SECONDS"])
    # Alert channels (ysh_assets/ops/alerts.py): each one is off while its URL / host is empty.
    alert_webhook_url: str = field(default="", repr=False)  # Slack-style URLs carry their token
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = True
    alert_email_from: str = DEFAULTS["YSH_ALERT_EMAIL_FROM"]
    alert_email_to: tuple[str, ...] = ()
    dagster_ui_url: str = DEFAULTS["YSH_DAGSTER_UI_URL"]

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return env.get(name) or DEFAULTS[name]

        settings = cls(
            profile=get("YSH_PROFILE"),
            data_dir=Path(get("YSH_DATA_DIR")).absolute(),
            pg_dsn=get("YSH_PG_DSN"),
            s3_endpoint_url=env.get("YSH_S3_ENDPOINT_URL", DEFAULTS["YSH_S3_ENDPOINT_URL"]),
            s3_bucket=get("YSH_S3_BUCKET"),
            s3_prefix=env.get("YSH_S3_PREFIX", DEFAULTS["YSH_S3_PREFIX"]),
            redis_url=get("YSH_REDIS_URL"),
            qdrant_url=_qdrant_url(env, get("YSH_PROFILE")),
            ollama_url=get("YSH_OLLAMA_URL"),
            ollama_model=get("YSH_OLLAMA_MODEL"),
            ckan_url=get("YSH_CKAN_URL"),
            sources=get("YSH_SOURCES"),
            catalog_urls=_catalog_urls(env.get("YSH_CATALOG_URLS", "")),
            embedding_model=get("YSH_EMBEDDING_MODEL"),
            ckan_mirrors=_ckan_mirrors(env.get("YSH_CKAN_MIRRORS", "")),
            source_quotas=_source_quotas(get("YSH_SOURCE_QUOTAS")),
            breaker_failures=_positive("YSH_BREAKER_FAILURES", get("YSH_BREAKER_FAILURES"), int),
            breaker_cooldown_seconds=_positive(
                "YSH_BREAKER_COOLDOWN_SECONDS", get("YSH_BREAKER_COOLDOWN_SECONDS"), float
            ),
            alert_webhook_url=env.get("YSH_ALERT_WEBHOOK_URL", "").strip(),
            smtp_host=env.get("YSH_SMTP_HOST", "").strip(),
            smtp_port=_port(get("YSH_SMTP_PORT")),
            smtp_user=env.get("YSH_SMTP_USER", ""),
            smtp_password=env.get("YSH_SMTP_PASSWORD", ""),
            smtp_starttls=_flag("YSH_SMTP_STARTTLS", get("YSH_SMTP_STARTTLS")),
            alert_email_from=get("YSH_ALERT_EMAIL_FROM"),
            alert_email_to=tuple(a.strip() for a in env.get("YSH_ALERT_EMAIL_TO", "").split(",") if a.strip()),
            dagster_ui_url=get("YSH_DAGSTER_UI_URL").rstrip("/"),
        )
        if settings.profile not in PROFILES:
            raise ConfigurationError(f"YSH_PROFILE must be one of {PROFILES}, got {settings.profile!r}")
        if settings.sources not in SOURCES:
            raise ConfigurationError(f"YSH_SOURCES must be one of {SOURCES}, got {settings.sources!r}")
        if settings.smtp_host and not settings.alert_email_to:
            raise ConfigurationError("YSH_SMTP_HOST is set but YSH_ALERT_EMAIL_TO names no recipient")
        return settings

    @property
    def duckdb_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def object_store_root(self) -> str:
        """`s3://bucket/prefix` in the services profile, a folder URL in the local one."""
        if self.profile == "services":
            return f"s3://{self.s3_bucket}/{self.s3_prefix}".rstrip("/")
        return (self.data_dir / "objects").as_uri()


def _qdrant_url(env, profile: str) -> str:
    """The Qdrant server URL, or "" for local mode: the local profile's default, and `YSH_QDRANT_URL=local`
    in either profile (tests of the services profile, with no Qdrant server, run local mode this way)."""
    raw = env.get("YSH_QDRANT_URL", "")
    if raw == "local" or (not raw and profile != "services"):
        return ""
    return raw or DEFAULTS["YSH_QDRANT_URL"]


def _port(raw: str) -> int:
    """`YSH_SMTP_PORT`: a TCP port number."""
    if not raw.strip().isdigit() or not 0 < int(raw) < 65536:
        raise ConfigurationError(f"YSH_SMTP_PORT must be a port number, got {raw!r}")
    return int(raw)


def _flag(name: str, raw: str) -> bool:
    """A true/false setting; anything else is refused rather than guessed."""
    value = raw.strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigurationError(f"{name} must be true or false, got {raw!r}")
    return value in ("true", "1", "yes")


def _ckan_mirrors(raw: str) -> tuple[str, ...]:
    """`YSH_CKAN_MIRRORS`: comma-separated http(s) CKAN base URLs (empty: no mirrors)."""
    mirrors = tuple(url.strip().rstrip("/") for url in raw.split(",") if url.strip())
    if not all(url.startswith(("http://", "https://")) for url in mirrors):
        raise ConfigurationError(f"YSH_CKAN_MIRRORS must be comma-separated http(s) URLs, got {raw!r}")
    return mirrors


def _source_quotas(raw: str) -> dict[str, int]:
    """`YSH_SOURCE_QUOTAS`: JSON, source or kind (the part before `:`) -> requests per Brazilian day."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"YSH_SOURCE_QUOTAS must be a JSON object: {error}") from None
    if not isinstance(value, dict) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value.values()
    ):
        raise ConfigurationError('YSH_SOURCE_QUOTAS must look like {"aneel_portal": 2000, "ollama": 20000}')
    return {str(source): n for source, n in value.items()}


def _positive(name: str, raw: str, kind: type[int] | type[float]) -> int | float:
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ConfigurationError(f"{name} must be a positive number, got {raw!r}")
    return value


def _catalog_urls(raw: str) -> dict[str, list[str]]:
    """`YSH_CATALOG_URLS`: a JSON object, distributor -> list of http(s) URLs (empty: none configured)."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"YSH_CATALOG_URLS must be a JSON object of URL lists: {error}") from None
    if not isinstance(value, dict) or not all(
        isinstance(urls, list) and all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls)
        for urls in value.values()
    ):
        raise ConfigurationError('YSH_CATALOG_URLS must look like {"solfacil": ["https://.../inverters.json"]}')
    return {str(name).lower(): urls for name, urls in value.items()}


def secret_setting(name: str) -> str | dg.EnvVar:
    """A setting that may hold a password, as Dagster resource config: the variable's name whenever it is set
    (so the UI and run config show the name, never the value, whatever whitespace the value carries), else
    its documented default."""
    return dg.EnvVar(name) if os.environ.get(name, "").strip() else DEFAULTS[name]


_SECRET_KEYS = ("password", "sslpassword")


def redact_dsn(dsn: str) -> str:
    """A DSN or URL fit for logs and error messages: every password is replaced by `***`.

    Covers the URL user-info (whatever characters the password holds, `#`, `?`, `/` and `@` included: the
    user-info runs to the last `@`), `password=` / `sslpassword=` query parameters, and the libpq key/value
    form (quoted or not). The URL is taken apart before anything of it is shown.
    """
    if "://" not in dsn:  # libpq key/value form
        return re.sub(r"\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", dsn)
    scheme, rest = dsn.split("://", 1)
    if "@" in rest:
        userinfo, rest = rest.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        rest = f"{user}:***@{rest}" if ":" in userinfo else f"{user}@{rest}"
    parts = urlsplit(f"{scheme}://{rest}")
    query = [(k, "***" if k.lower() in _SECRET_KEYS else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*@:/")))
