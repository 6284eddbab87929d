"""The demo's alerting: the default rules with every notification routed to the demo's local webhook."""

from __future__ import annotations

from typing import Any, Final

import yaml

RECEIVER: Final = "demo-webhook"
GROUP_WAIT: Final = "10s"  # the first notification of a group a few seconds after the alert fires, not 30


def demo_rules_text(webhook_url: str) -> str:
    """The built-in rules file (``watchkeeper.alerting.default_rules_text()``) with its route sending every alert
    to ``webhook_url`` after a short group wait; the rules themselves, comments included, are unchanged."""
    from watchkeeper.alerting import default_rules_text

    text = default_rules_text()
    head, sep, tail = text.partition("\nroute:\n")
    if not sep:
        raise ValueError("the default rules have no top-level route to point at the demo webhook")
    doc = yaml.safe_load("route:\n" + tail) or {}
    route: dict[str, Any] = dict(doc.get("route") or {})
    route["receiver"] = RECEIVER
    route["group_wait"] = GROUP_WAIT
    receivers = [r for r in doc.get("receivers") or () if r.get("name") != RECEIVER]
    receivers.append({"name": RECEIVER, "webhook_configs": [{"url": webhook_url}]})
    routing = yaml.safe_dump({"route": route, "receivers": receivers}, sort_keys=False, default_flow_style=None)
    return (
        "# Written by `watchkeeper demo` at each start: the built-in rules, with every notification sent to the\n"
        "# demo's local webhook (which prints it to the console).\n"
        + head
        + "\n# The demo's route: everything to its local webhook, the first notification of a group after "
        + GROUP_WAIT
        + ".\n"
        + routing
    )
