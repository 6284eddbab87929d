"""Slack-compatible incoming webhooks (Slack, Mattermost, Rocket.Chat): one message with one attachment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, model_validator

from . import IntegrationConfig, NotifierEnv, check_url, describe, post_json
from ._message import FIRING, Notification


class SlackConfig(IntegrationConfig):
    api_url: str | None = None
    api_url_file: str | None = None  # the URL holds the token: keep it out of the rules file
    channel: str | None = None
    username: str | None = None
    icon_emoji: str | None = None
    send_resolved: bool = False

    @model_validator(mode="after")
    def _one_url(self) -> SlackConfig:
        if (self.api_url is None) == (self.api_url_file is None):
            raise ValueError("give exactly one of api_url or api_url_file")
        if self.api_url is not None:
            check_url(self.api_url)
        return self


def slack_message(n: Notification) -> dict[str, Any]:
    """The incoming-webhook JSON: a fallback ``text`` and one attachment coloured by status."""
    firing = n.status == FIRING
    lines = describe(n.firing if firing else n.resolved)
    runbooks = {a.annotations.get("runbook_url") for a in n.alerts} - {None, ""}
    attachment: dict[str, Any] = {
        "color": "danger" if firing else "good",
        "title": n.title(),
        "text": "\n".join(lines),
        "fallback": n.title(),
        "mrkdwn_in": ["text"],
    }
    if len(runbooks) == 1:
        attachment["title_link"] = runbooks.pop()
    elif n.external_url:
        attachment["title_link"] = n.external_url
    return {"text": n.title(), "attachments": [attachment]}


@dataclass(frozen=True, slots=True)
class SlackSender:
    config: SlackConfig
    env: NotifierEnv
    kind: str = "slack"

    @property
    def send_resolved(self) -> bool:
        return self.config.send_resolved

    def send(self, notification: Notification) -> int | None:
        msg = slack_message(notification)
        for key in ("channel", "username", "icon_emoji"):
            if getattr(self.config, key):
                msg[key] = getattr(self.config, key)
        url = self.config.api_url or self.env.read_secret(str(self.config.api_url_file))
        return post_json(self.env.http, url, orjson.dumps(msg))


class _Slack:
    name = "slack"
    config: type[BaseModel] = SlackConfig

    def build(self, config: Any, env: NotifierEnv) -> SlackSender:
        return SlackSender(config, env)


SLACK = _Slack()
