"""E-mail over SMTP: one plain-text message per notification, with the idempotency key as its Message-ID."""

from __future__ import annotations

import smtplib
import socket
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, getaddresses
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from . import IntegrationConfig, NotifierEnv, describe
from ._delivery import DeliveryError
from ._message import Notification


class EmailConfig(IntegrationConfig):
    to: str
    from_: str = Field(alias="from")
    smarthost: str  # host:port
    hello: str = "localhost"
    auth_username: str | None = None
    auth_password: str | None = Field(None, repr=False)
    auth_password_file: str | None = None
    require_tls: bool = True  # STARTTLS before anything is sent (Alertmanager's default)
    send_resolved: bool = False

    @field_validator("to", "from_")
    @classmethod
    def _addresses(cls, v: str) -> str:
        addrs = getaddresses([v])
        if not addrs or any("@" not in a for _, a in addrs):
            raise ValueError("must be one or more e-mail addresses, separated by commas")
        return v

    @field_validator("smarthost")
    @classmethod
    def _hostport(cls, v: str) -> str:
        host, _, port = v.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, such as smtp.example.org:587")
        return v

    @model_validator(mode="after")
    def _password(self) -> EmailConfig:
        if self.auth_password is not None and self.auth_password_file is not None:
            raise ValueError("give at most one of auth_password or auth_password_file")
        return self


def email_message(n: Notification, config: EmailConfig) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = n.title()
    msg["From"] = config.from_
    msg["To"] = config.to
    msg["Date"] = formatdate(n.at_ns / 1e9, usegmt=True)
    msg["Message-ID"] = f"<{n.key}@watchkeeper>"
    lines = [n.title(), ""]
    if n.firing:
        lines += ["Firing:", *(f"- {line}" for line in describe(n.firing)), ""]
    if n.resolved:
        lines += ["Resolved:", *(f"- {line}" for line in describe(n.resolved)), ""]
    if n.external_url:
        lines.append(f"Alerts: {n.external_url}")
    msg.set_content("\n".join(lines))
    return msg


def _smtp_error(e: smtplib.SMTPException | OSError) -> DeliveryError:
    if isinstance(e, smtplib.SMTPResponseException):
        # 4xx: the server asks to try again later; 5xx: it will refuse the same message again
        return DeliveryError(f"SMTP {e.smtp_code}", retryable=e.smtp_code < 500)
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in e.recipients.values()]
        return DeliveryError(f"SMTP recipients refused ({min(codes)})", retryable=all(c < 500 for c in codes))
    if isinstance(e, socket.timeout | TimeoutError):
        return DeliveryError("timed out", retryable=True)
    return DeliveryError(f"SMTP failed ({type(e).__name__})", retryable=True)


@dataclass(frozen=True, slots=True)
class EmailSender:
    config: EmailConfig
    env: NotifierEnv
    kind: str = "email"

    @property
    def send_resolved(self) -> bool:
        return self.config.send_resolved

    def send(self, notification: Notification) -> int | None:
        c = self.config
        host, _, port = c.smarthost.rpartition(":")
        msg = email_message(notification, c)
        try:
            with smtplib.SMTP(host, int(port), local_hostname=c.hello, timeout=self.env.timeout_s) as smtp:
                smtp.ehlo()
                if c.require_tls:
                    if not smtp.has_extn("starttls"):
                        raise DeliveryError("the SMTP server does not offer STARTTLS (require_tls)", retryable=False)
                    smtp.starttls()
                    smtp.ehlo()
                if c.auth_username:
                    password = c.auth_password
                    if password is None and c.auth_password_file:
                        password = self.env.read_secret(c.auth_password_file)
                    smtp.login(c.auth_username, password or "")
                smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as e:
            raise _smtp_error(e) from None
        return None


class _Email:
    name = "email"
    config: type[BaseModel] = EmailConfig

    def build(self, config: Any, env: NotifierEnv) -> EmailSender:
        return EmailSender(config, env)


EMAIL = _Email()
