"""Secret recognisers: provider keys by their published prefixes and shapes, JWTs, PEM private keys, passwords in
URLs, and values under key-like names in JSON, headers, query strings and env-style text.

Shapes follow the providers' documented formats (and the rules of gitleaks / detect-secrets / trufflehog for the
same providers). A secret is always reported whole: the match runs to the end of the token's alphabet, never stops
at a fixed length inside it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from . import _model as m
from ._regex import PatternRecogniser, shannon_bits

# Characters that end a token: anything outside base64url plus the '.' some formats use.
_END = r"(?![A-Za-z0-9_\-])"
_START = r"(?<![A-Za-z0-9_\-])"


def _token(
    name: str, etype: str, pattern: str, triggers: tuple[str, ...], flags: int = 0, group: int | str = 0
) -> PatternRecogniser:
    return PatternRecogniser(name, (etype,), re.compile(pattern, flags), triggers, group=group)


def _aws_secret(match: re.Match[str], text: str) -> tuple[int, int, str] | None:
    """A 40-character base64 run is an AWS secret access key only if it looks random, not like hex or a word."""
    v = match.group(0)
    if not (any(c.isupper() for c in v) and any(c.islower() for c in v) and any(c.isdigit() for c in v)):
        return None
    if shannon_bits(v) < 4.0:
        return None
    return match.start(), match.end(), m.AWS_SECRET_KEY


def _pem(match: re.Match[str], text: str) -> tuple[int, int, str] | None:
    """From BEGIN to the matching END line; a key cut short is removed to the end of its base64 body."""
    start = match.start()
    end_marker = text.find("-----END", match.end(), match.end() + 20_000)
    if end_marker >= 0:
        close = text.find("-----", end_marker + 8, end_marker + 80)
        end = close + 5 if close >= 0 else end_marker + 8
        return start, end, m.PRIVATE_KEY
    body = _PEM_BODY.match(text, match.end())
    return start, body.end() if body else match.end(), m.PRIVATE_KEY


_PEM_BODY = re.compile(r"(?:[ \t]*(?:\\n|\r?\n)?[ \t]*[A-Za-z0-9+/=:,\-]{1,100}){0,400}")

# ---------------------------------------------------------------------------------------------------------------
# Values under key-like names

_PW_FIELDS = r"password|passwd|passphrase|pwd|pass|credentials?|dsn|conn(?:ection)?[_.\-]?str(?:ing)?"
_KEYLIKE_FIELDS = (
    r"api[_.\-]?key|access[_.\-]?key(?:[_.\-]?id)?|secret[_.\-]?key|private[_.\-]?key|signing[_.\-]?key"
    r"|encryption[_.\-]?key|master[_.\-]?key|license[_.\-]?key|secret|token|authorization|auth|cookie|signature"
    r"|session[_.\-]?id|sid"
)
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
KEY_NAME = re.compile(rf"(?i)(?:^|.*[^a-z])?(?:(?P<pw>{_PW_FIELDS})|(?P<tok>{_KEYLIKE_FIELDS}))$")

_PLACEHOLDER = re.compile(
    r"(?i)^(?:true|false|null|none|nil|undefined|n/?a|\*+|x+|\.+|-+|changeme|redacted|\[redacted\]|hidden|secret"
    r"|password|token|string|example|sample|test|dummy|<[^<>]*>|\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|\{\{[^}]*\}\}|%\([^)]*\)s"
    r"|your[_\- ].*|my[_\- ].*|xxx.*|\.\.\.)$"
)
_AUTH_SCHEME = re.compile(r"(?i)^(?:bearer|basic|token|digest|apikey|key|bot)\s+")


PW_FIELDS, KEYLIKE_FIELDS = _PW_FIELDS, _KEYLIKE_FIELDS


def secret_for_value(key: str, value: str) -> str | None:
    """The secret type of ``value`` stored under ``key`` (a JSON key, header, env or query name), or None.

    Password-like names take any non-placeholder value (passwords are often low-entropy); token-like names take a
    value that looks random: at least 8 characters mixing letters and digits, or with high entropy.
    """
    return secret_for_kind(secret_key_kind(key), value)


def secret_key_kind(key: str) -> str | None:
    """``"pw"`` for a password-like name, ``"tok"`` for a token-like one, None for other names."""
    if len(key) > 80:
        return None
    if len(key) > 64:  # long names are rare and may be payload: not kept in the cache
        return _secret_key_kind(key)
    return _cached_secret_key_kind(key)


def _secret_key_kind(key: str) -> str | None:
    km = KEY_NAME.match(_CAMEL.sub(r"\1_\2", key))
    if km is None:
        return None
    return "pw" if km.group("pw") else "tok"


_cached_secret_key_kind = lru_cache(maxsize=4096)(_secret_key_kind)


def secret_for_kind(kind: str | None, value: str) -> str | None:
    """The secret type of ``value`` under a name of ``kind`` (see :func:`secret_key_kind`), or None."""
    if kind is None:
        return None
    v = value.strip()
    sm = _AUTH_SCHEME.match(v)
    if sm:
        v = v[sm.end() :]
    if not v or len(v) > 4096 or _PLACEHOLDER.match(v):
        return None
    if kind == "pw":
        return m.PASSWORD if len(v) >= 3 else None
    if len(v) < 8 or " " in v.strip():
        return None
    has_digit = any(c.isdigit() for c in v)
    has_alpha = any(c.isalpha() for c in v)
    if (has_digit and has_alpha) or shannon_bits(v) >= 3.5:
        return m.SECRET
    return None


KV = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?P<key>[A-Za-z0-9_.\-]{0,60})(?P<q1>[\"']?)[ \t]{0,8}(?::=|=>|=|:)[ \t]{0,8}"
    r"(?:(?P<q2>[\"'])|(?P<scheme>(?i:bearer|basic|token|digest|bot)[ \t]+))?",
)
UNQUOTED_VALUE = re.compile(r"[^\s\"'&;,<>(){}\[\]]{1,1024}")


def quoted_end(text: str, start: int, quote: str) -> int:
    """End of a quoted value (backslash escapes honoured), at most 4 KB on, never past a line end."""
    limit = min(len(text), start + 4096)
    mt = (_IN_DOUBLE_QUOTES if quote == '"' else _IN_SINGLE_QUOTES).match(text, start, limit)
    end = mt.end() if mt is not None else start
    if end < limit and text[end] == "\\":  # an escape cut by the limit: the limit ends the value
        return limit
    return end


# Up to the closing quote or a line end; a backslash escapes the character after it (a line end included).
_IN_DOUBLE_QUOTES = re.compile(r'(?:[^"\\\n]|\\[\s\S])*')
_IN_SINGLE_QUOTES = re.compile(r"(?:[^'\\\n]|\\[\s\S])*")


_URL_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{1,30}://[^\s:/@?#\"'<>]{0,128}:(?P<pw>[^\s@/\"'<>]{1,256})@"
)


def builtin_secret_recognisers() -> list[object]:
    """The built-in secret recognisers, freshly built."""
    return [
        _token(
            "anthropic_key",
            m.ANTHROPIC_KEY,
            rf"{_START}sk-ant-[a-z]{{2,10}}\d{{0,3}}-[A-Za-z0-9_\-]{{20,}}{_END}",
            (r"sk-ant-",),
        ),
        _token(
            "openai_key",
            m.OPENAI_KEY,
            rf"{_START}sk-(?!ant-)(?:[a-z]{{2,10}}-)?[A-Za-z0-9_\-]{{20,}}{_END}",
            (r"sk-[A-Za-z0-9_\-]{20}",),
        ),
        _token(
            "aws_access_key_id",
            m.AWS_ACCESS_KEY_ID,
            r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])",
            (r"A(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|IPA|NPA|NVA|PKA|3T[A-Z0-9])[A-Z0-9]{16}",),
        ),
        PatternRecogniser(
            "aws_secret_key",
            (m.AWS_SECRET_KEY,),
            re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
            (r"[A-Za-z0-9/+]{40}",),
            validate=_aws_secret,
            score=0.8,
        ),
        _token(
            "github_token",
            m.GITHUB_TOKEN,
            rf"{_START}(?:gh[pousr]_[A-Za-z0-9]{{30,255}}|github_pat_[A-Za-z0-9_]{{22,255}}){_END}",
            (r"gh[pousr]_[A-Za-z0-9]{30}", r"github_pat_"),
        ),
        _token(
            "gitlab_token",
            m.GITLAB_TOKEN,
            rf"{_START}(?:gl(?:pat|dt|rt|ptt|cbt|imt|oas|ft|soat|ffct|agent)-[A-Za-z0-9_\-]{{20,}}"
            rf"(?:\.[A-Za-z0-9]{{2}}\.[A-Za-z0-9]{{6,12}})?|GR1348941[A-Za-z0-9_\-]{{20,}}){_END}",
            (r"gl(?:pat|dt|rt|ptt|cbt|imt|oas|ft|soat|ffct|agent)-", r"GR1348941"),
        ),
        _token(
            "slack_token",
            m.SLACK_TOKEN,
            rf"{_START}(?:xox[abposrec]-[A-Za-z0-9\-]{{10,}}|xapp-\d-[A-Za-z0-9\-]{{10,}}"
            r"|https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+\-]{20,})" + _END,
            (r"xox[abposrec]-", r"xapp-\d-", r"hooks\.slack\.com/"),
        ),
        _token(
            "stripe_key",
            m.STRIPE_KEY,
            rf"{_START}(?:(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{{10,247}}|whsec_[A-Za-z0-9]{{20,}}){_END}",
            (r"(?:sk|rk|pk)_(?:live|test)_", r"whsec_"),
        ),
        _token(
            "google_api_key",
            m.GOOGLE_API_KEY,
            rf"{_START}(?:AIza[0-9A-Za-z_\-]{{35}}|GOCSPX-[A-Za-z0-9_\-]{{20,}}|ya29\.[0-9A-Za-z_\-]{{20,}}){_END}",
            (r"AIza[0-9A-Za-z_\-]{35}", r"GOCSPX-", r"ya29\."),
        ),
        _token(
            "watchkeeper_key",
            m.WATCHKEEPER_KEY,
            rf"{_START}wk_[0-9A-Za-z]{{8}}_[0-9A-Za-z]{{32}}_[0-9A-Za-z]{{6}}{_END}",
            (r"wk_[0-9A-Za-z]{8}_",),
        ),
        _token(
            "jwt",
            m.JWT,
            rf"{_START}eyJ[A-Za-z0-9_\-]{{8,}}\.[A-Za-z0-9_\-]{{4,}}\.[A-Za-z0-9_\-]*{_END}",
            (r"eyJ[A-Za-z0-9_\-]{8}",),
        ),
        PatternRecogniser(
            "pem_private_key",
            (m.PRIVATE_KEY,),
            re.compile(r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----"),
            (r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY",),
            validate=_pem,
        ),
        PatternRecogniser(
            "url_password",
            (m.PASSWORD,),
            _URL_PASSWORD,
            (r"://[^\s:/@]{0,128}:[^\s@/]{1,256}@",),
            group="pw",
        ),
    ]
