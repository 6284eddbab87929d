"""What is said in each turn of a simulated session: the user's message and the answer the agent aims to give.

A turn's text depends only on its session and its index, so a later turn can carry the earlier ones as history
without generating their traces.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from ._phrases import (
    ANSWERS,
    CLOSINGS,
    FOLLOW_UPS,
    JAILBREAKS,
    LANGUAGE_OF_LOCALE,
    OPENERS,
    PRODUCTS,
    REFUSALS,
)
from ._traffic import NS_PER_S, Session, seeded

# (symbol, ISO code, typical amounts, decimal comma, symbol after the number)
_CURRENCIES: Final[dict[str, tuple[str, str, tuple[float, ...], bool, bool]]] = {
    "en-US": ("$", "USD", (19.99, 24.5, 49.0, 89.99, 129.0, 249.0), False, False),
    "en-GB": ("£", "GBP", (15.99, 19.5, 39.0, 74.99, 109.0, 199.0), False, False),
    "en-IN": ("₹", "INR", (1499.0, 2099.0, 3999.0, 7499.0, 10999.0), False, False),
    "hi-IN": ("₹", "INR", (1499.0, 2099.0, 3999.0, 7499.0, 10999.0), False, False),
    "de-DE": ("€", "EUR", (17.99, 22.5, 45.0, 84.99, 119.0, 229.0), True, True),
    "fr-FR": ("€", "EUR", (17.99, 22.5, 45.0, 84.99, 119.0, 229.0), True, True),
    "es-ES": ("€", "EUR", (17.99, 22.5, 45.0, 84.99, 119.0, 229.0), True, True),
    "pt-BR": ("R$", "BRL", (99.9, 129.0, 249.9, 499.0, 899.0), True, False),
    "ja-JP": ("¥", "JPY", (2980.0, 4400.0, 7800.0, 13800.0, 32800.0), False, False),
}


@dataclass(frozen=True, slots=True)
class Slots:
    """The facts of one session: which order, how much, which product."""

    order: str
    amount_value: float
    currency: str
    currency_symbol: str
    amount: str  # as the user writes it
    product: str
    plan: str
    invoice: str
    email: str
    date: str  # ISO date the order is expected
    lang: str

    def fill(self, template: str) -> str:
        return template.format(
            order=self.order,
            amount=self.amount,
            product=self.product,
            plan=self.plan,
            invoice=self.invoice,
            email=self.email,
            date=self.date,
        )


def slots_for(session: Session) -> Slots:
    """The facts a session is about, drawn from its own key."""
    rng = seeded(f"{session.key}:slots")
    subject = session.subject
    symbol, code, amounts, comma, after = _CURRENCIES.get(subject.locale, _CURRENCIES["en-US"])
    value = rng.choice(amounts)
    if code in ("JPY", "INR"):
        text = f"{int(value):,}"
    else:
        text = f"{value:,.2f}"
        if comma:
            text = text.replace(",", " ").replace(".", ",").replace(" ", ".")
    amount = f"{text} {symbol}" if after else (f"{symbol} {text}" if len(symbol) > 1 else f"{symbol}{text}")
    start = datetime.fromtimestamp(session.turn_starts_ns[0] / NS_PER_S, tz=UTC)
    return Slots(
        order=f"WK-{rng.randrange(100000, 999999)}",
        amount_value=value,
        currency=code,
        currency_symbol=symbol,
        amount=amount,
        product=rng.choice(PRODUCTS),
        plan=subject.plan_tier.capitalize(),
        invoice=f"INV-{start.year}-{rng.randrange(10000, 99999)}",
        email=subject.email,
        date=(start + timedelta(days=rng.randrange(1, 5))).date().isoformat(),
        lang=LANGUAGE_OF_LOCALE.get(subject.locale, "en"),
    )


@dataclass(frozen=True, slots=True)
class TurnText:
    """kind: task (the session's intent), again (redo it), thanks / when / human (answered directly), jailbreak."""

    kind: str
    user: str
    answer: str  # what the agent says when everything works


_FOLLOW_UP_WEIGHTS: Final = {"thanks": 0.35, "again": 0.30, "when": 0.20, "human": 0.15}


def turn_text(session: Session, slots: Slots, index: int) -> TurnText:
    """The user's message of turn ``index`` and the answer the agent gives when nothing fails."""
    rng = seeded(f"{session.key}:text:{index}")
    lang = slots.lang
    if session.jailbreak:
        said_in, template = rng.choice(JAILBREAKS)
        return TurnText("jailbreak", slots.fill(template), REFUSALS[said_in])
    if index == 0:
        kind, user = "task", slots.fill(rng.choice(OPENERS[lang][session.intent]))
    else:
        x = rng.random()
        kind = "thanks"
        for name, w in _FOLLOW_UP_WEIGHTS.items():
            x -= w
            if x < 0:
                kind = name
                break
        user = dict(FOLLOW_UPS[lang])[kind]
    key = session.intent if kind in ("task", "again") else kind
    answer = slots.fill(ANSWERS[lang][key])
    if session.prompt == "support-v13" and kind not in ("human", "thanks"):
        answer += CLOSINGS[lang]
    return TurnText(kind, user, answer)
