"""Alert channels: a Slack-compatible webhook and email over SMTP, behind one `send`.

Alerts tell operators about a failure; they must never become one. `AlertChannels.send` tries every configured
channel, logs the ones that could not deliver and returns what happened, but never raises. Secrets (the
webhook URL carries its token, the SMTP password) come from the environment as `dg.EnvVar`s, and only a
redacted target (host and port) is ever logged or returned.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Literal, Protocol
from urllib.parse import urlsplit

import dagster as dg
import httpx
from pydantic import PrivateAttr

from ysh_assets.settings import DEFAULTS, Settings, secret_setting

logger = logging.getLogger(__name__)

AlertKind = Literal["run_failure", "check_failure", "freshness", "report"]

# Slack's limits: a header's text, a section's text, the blocks of one message, its top-level text.
_HEADER_CHARS = 150
_SECTION_CHARS = 3000
_MAX_BLOCKS = 50
_TEXT_CHARS = 40000


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    title: str
    reason: str = ""
    asset: str | None = None
    partition: str | None = None
    run_id: str | None = None
    link: str | None = None  # the run's page in the Dagster UI; AlertChannels.send fills it in from run_id
    markdown: str | None = None  # a longer body (the daily report)


@dataclass(frozen=True)
class Delivery:
    channel: str
    ok: bool
    error: str | None = None


class Log(Protocol):
    """Python's `logging.Logger` and Dagster's `context.log` both fit."""

    def info(self, msg: str) -> object: ...

    def warning(self, msg: str) -> object: ...


class AlertChannel(ABC):
    name: str

    @property
    @abstractmethod
    def target(self) -> str:
        """Where the channel delivers, without any secret: safe to log."""

    @abstractmethod
    def deliver(self, alert: Alert) -> None:
        """Sends the alert or raises."""


class _RedactUrls(logging.Filter):
    """httpx logs every request's full URL at INFO, and a webhook's URL is its secret: shown as its target."""

    def __init__(self) -> None:
        super().__init__()
        self.shown_as: dict[str, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if self.shown_as and record.args:
            record.args = tuple(self.shown_as.get(str(arg), arg) for arg in record.args)  # type: ignore[union-attr]
        return True


_redact_urls = _RedactUrls()
logging.getLogger("httpx").addFilter(_redact_urls)


def _facts(alert: Alert) -> list[tuple[str, str]]:
    facts = [("Asset", alert.asset), ("Partition", alert.partition), ("Run", alert.run_id), ("Link", alert.link)]
    return [(label, value) for label, value in facts if value]


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


class WebhookChannel(AlertChannel):
    """POSTs `{"text": ..., "blocks": [...]}`: Slack incoming webhooks render the blocks, other receivers
    (Mattermost, Rocket.Chat, Teams via a workflow) read `text`."""

    name = "webhook"

    def __init__(self, url: str, timeout_seconds: float) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds
        _redact_urls.shown_as[str(httpx.URL(url))] = f"{self.target}/***"

    @property
    def target(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")

    def body(self, alert: Alert) -> dict:
        headline = f"{alert.title}: {alert.reason}" if alert.reason else alert.title
        text = " | ".join([headline, *(f"{label}: {value}" for label, value in _facts(alert))])
        if alert.markdown:  # for receivers that read `text` only; Slack shows it in notifications
            text = f"{text}\n\n{alert.markdown}"[:_TEXT_CHARS]
        blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": alert.title[:_HEADER_CHARS]}}]
        if alert.reason:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": alert.reason[:_SECTION_CHARS]}})
        fields = [
            {"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in _facts(alert) if label != "Link"
        ]
        if fields:
            blocks.append({"type": "section", "fields": fields})
        if alert.link:
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": f"<{alert.link}|Open the run in Dagster>"}}
            )
        if alert.markdown:
            room = _MAX_BLOCKS - len(blocks)
            blocks += [
                {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
                for chunk in _chunks(alert.markdown, _SECTION_CHARS)[:room]
            ]
        return {"text": text, "blocks": blocks}

    def deliver(self, alert: Alert) -> None:
        response = httpx.post(self.url, json=self.body(alert), timeout=self.timeout_seconds, follow_redirects=False)
        if response.status_code >= 300:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")


class SmtpChannel(AlertChannel):
    """Plain-text email; STARTTLS (verified against the system's CAs) when asked, login only with credentials."""

    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        user: str,
        password: str,
        starttls: bool,
        timeout_seconds: float,
    ) -> None:
        self.host, self.port, self.sender, self.recipients = host, port, sender, recipients
        self.user, self._password, self.starttls, self.timeout_seconds = user, password, starttls, timeout_seconds

    @property
    def target(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def message(self, alert: Alert) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = f"[YSH {alert.kind}] {alert.title}"
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        lines = [alert.title, "", *([alert.reason, ""] if alert.reason else [])]
        lines += [f"{label}: {value}" for label, value in _facts(alert)]
        if alert.markdown:
            lines += ["", alert.markdown]
        message.set_content("\n".join(lines) + "\n")
        return message

    def deliver(self, alert: Alert) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user and self._password:
                smtp.login(self.user, self._password)
            smtp.send_message(self.message(alert))


class AlertChannels(dg.ConfigurableResource):
    """The configured alert channels (none by default). `send` never raises: see the module docstring."""

    webhook_url: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    email_from: str = DEFAULTS["YSH_ALERT_EMAIL_FROM"]
    email_to: list[str] = []
    ui_url: str = DEFAULTS["YSH_DAGSTER_UI_URL"]
    timeout_seconds: float = 10.0

    _said_unconfigured: bool = PrivateAttr(default=False)

    def channels(self) -> list[AlertChannel]:
        channels: list[AlertChannel] = []
        if self.webhook_url.strip():  # as Settings reads it: a value from a file may end in a newline
            channels.append(WebhookChannel(self.webhook_url.strip(), self.timeout_seconds))
        if self.smtp_host:
            channels.append(
                SmtpChannel(
                    host=self.smtp_host,
                    port=self.smtp_port,
                    sender=self.email_from,
                    recipients=list(self.email_to),
                    user=self.smtp_user,
                    password=self.smtp_password,
                    starttls=self.smtp_starttls,
                    timeout_seconds=self.timeout_seconds,
                )
            )
        return channels

    def run_link(self, run_id: str) -> str:
        return f"{self.ui_url.rstrip('/')}/runs/{run_id}"

    def send(self, alert: Alert, log: Log | None = None) -> list[Delivery]:
        """Tries every channel; each outcome is logged to this module's logger (the process's output) and to
        `log` when given (a Dagster context's log: the run's or the sensor tick's page in the UI)."""
        logs: list[Log] = [logger, *([log] if log is not None else [])]
        channels = self.channels()
        if not channels:
            if not self._said_unconfigured:
                for out in logs:
                    out.info("no alert channel configured (YSH_ALERT_WEBHOOK_URL, YSH_SMTP_HOST): alerts are not sent")
                self._said_unconfigured = True
            return []
        if alert.run_id and not alert.link:
            alert = replace(alert, link=self.run_link(alert.run_id))
        deliveries = []
        for channel in channels:
            try:
                channel.deliver(alert)
            except Exception as error:  # an alert channel must never fail the run or sensor that alerts
                text = self._redacted(f"{type(error).__name__}: {error}")
                for out in logs:
                    out.warning(f"{alert.kind} alert not delivered through {channel.name} ({channel.target}): {text}")
                deliveries.append(Delivery(channel.name, ok=False, error=text))
            else:
                for out in logs:
                    out.info(f"{alert.kind} alert sent through {channel.name} ({channel.target}): {alert.title}")
                deliveries.append(Delivery(channel.name, ok=True))
        return deliveries

    def _redacted(self, text: str) -> str:
        for secret in (self.webhook_url.strip(), self.smtp_password):
            if secret:
                text = text.replace(secret, "***")
        return text


def alert_channels_for(settings: Settings) -> AlertChannels:
    return AlertChannels(
        webhook_url=secret_setting("YSH_ALERT_WEBHOOK_URL"),
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        smtp_user=settings.smtp_user,
        smtp_password=secret_setting("YSH_SMTP_PASSWORD"),
        smtp_starttls=settings.smtp_starttls,
        email_from=settings.alert_email_from,
        email_to=list(settings.alert_email_to),
        ui_url=settings.dagster_ui_url,
    )
