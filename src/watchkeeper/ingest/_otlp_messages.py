"""Chat messages from the shapes instrumentations put them in, as canonical ``Message`` lists.

Shapes understood (see docs/ingest-otlp-mapping.md):

* GenAI semantic conventions: ``gen_ai.input.messages`` / ``gen_ai.output.messages`` (messages with typed ``parts``),
  ``gen_ai.system_instructions``; as structured values or JSON strings.
* OpenAI-style message objects (``role`` + ``content`` + ``tool_calls``), as in the older GenAI events
  (``gen_ai.user.message``, ``gen_ai.choice``, ...) and ``gen_ai.prompt`` / ``gen_ai.completion`` JSON strings.
* Flattened, indexed attributes: OpenInference ``llm.input_messages.{i}.message.*``, ``llm.prompts.{i}.prompt.text``,
  ``llm.choices.{i}.completion.text``; OpenLLMetry ``gen_ai.prompt.{i}.*`` / ``gen_ai.completion.{i}.*``.

Functions here never raise on odd shapes: what they cannot read is reported back so the caller keeps the original
attribute, and nothing is lost.
"""

from __future__ import annotations

from typing import Any

import orjson

from watchkeeper.records import Message, ToolCallRequest


def maybe_json(v: Any) -> Any:
    """A JSON object or array given as a string, parsed; anything else unchanged."""
    if isinstance(v, str) and v[:1] in ("{", "[") and v[-1:] in ("}", "]"):
        try:
            return orjson.loads(v)
        except orjson.JSONDecodeError:
            return v
    return v


def json_text(v: Any) -> Any:
    """A string holding JSON text, parsed; anything else (or invalid JSON) unchanged."""
    if type(v) is str:
        try:
            return orjson.loads(v)
        except orjson.JSONDecodeError:
            return v
    return v


def _text(v: Any) -> str:
    return v if isinstance(v, str) else orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS).decode()


def _opt_str(v: Any) -> str | None:
    if isinstance(v, str):
        return v or None
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return None


def _tool_call(d: dict[str, Any]) -> ToolCallRequest:
    """A tool call in GenAI part form ({name, id, arguments}) or OpenAI form ({id, function: {name, arguments}})."""
    fn = d.get("function")
    if isinstance(fn, dict):
        name, args = fn.get("name"), fn.get("arguments")
    else:
        name, args = d.get("name"), d.get("arguments")
    return ToolCallRequest(
        name=name if isinstance(name, str) else "", id=_opt_str(d.get("id")), arguments=maybe_json(args)
    )


def message_from_dict(d: dict[str, Any], default_role: str) -> tuple[Message, bool]:
    """One message from a GenAI ``parts`` message or an OpenAI-style one; (message, nothing was left out)."""
    role = d.get("role")
    parts = d.get("parts")
    if type(parts) is list and len(parts) == 1 and "name" not in d:  # fast path: one text part
        p = parts[0]
        if type(p) is dict and p.get("type") == "text":
            text = p.get("content")
            if type(text) is str:
                return Message(role=role if type(role) is str and role else default_role, content=text), True
    msg = Message(role=role if isinstance(role, str) and role else default_role, name=_opt_str(d.get("name")))
    complete = True
    texts: list[str] = []
    if isinstance(parts, list):
        for p in parts:
            if not isinstance(p, dict):
                complete = False
                continue
            t = p.get("type")
            if t == "text" and isinstance(p.get("content"), str):
                texts.append(p["content"])
            elif t == "tool_call":
                msg.tool_calls.append(_tool_call(p))
            elif t == "tool_call_response":
                msg.tool_call_id = _opt_str(p.get("id"))
                # The schema names it "response"; the spec's own example says "result".
                texts.append(_text(p.get("response", p.get("result"))))
            else:
                complete = False  # blobs, files, reasoning, custom parts: keep the original attribute too
    else:
        content = d.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):  # OpenAI content parts
            for p in content:
                if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str):
                    texts.append(p["text"])
                elif isinstance(p, str):
                    texts.append(p)
                else:
                    complete = False
        elif content is not None:
            texts.append(_text(content))
        calls = d.get("tool_calls")
        if isinstance(calls, list):
            for c in calls:
                if isinstance(c, dict):
                    msg.tool_calls.append(_tool_call(c))
                else:
                    complete = False
        if msg.tool_call_id is None:
            msg.tool_call_id = _opt_str(d.get("tool_call_id", d.get("id") if msg.role == "tool" else None))
    if texts:
        msg.content = "\n".join(texts)
    return msg, complete


def message_list(value: Any, default_role: str) -> tuple[list[Message], list[str], bool] | None:
    """(messages, finish reasons, complete) from a list of message objects or its JSON string; None if not one."""
    if type(value) is str:
        value = maybe_json(value)
    if type(value) is dict:
        value = [value]
    elif type(value) is not list:
        return None
    messages: list[Message] = []
    reasons: list[str] = []
    complete = True
    for item in value:
        if type(item) is not dict:
            return None
        if "message" in item:  # a "choice" wraps its message: {"index", "finish_reason", "message": {...}}
            inner = item["message"]
            if type(inner) is str:  # a choice event's message as JSON text
                inner = maybe_json(inner)
            m, ok = message_from_dict(inner if type(inner) is dict else item, default_role)
        else:
            m, ok = message_from_dict(item, default_role)
        messages.append(m)
        if not ok:
            complete = False
        if "finish_reason" in item and type(item["finish_reason"]) is str:
            reasons.append(item["finish_reason"])
    return messages, reasons, complete


def system_instructions(value: Any) -> tuple[Message, bool] | None:
    """``gen_ai.system_instructions`` (a list of parts, or plain text) as one system message."""
    value = maybe_json(value)
    if isinstance(value, str):
        return Message(role="system", content=value), True
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return None
    return message_from_dict({"role": "system", "parts": value}, "system")


# ---------------------------------------------------------------------------------------------------------------
# Flattened, indexed attributes


def _groups(attrs: dict[str, Any], prefix: str) -> dict[int, dict[str, str]]:
    """{index: {sub-key: full key}} for keys ``{prefix}{index}.{sub-key}``."""
    plen = len(prefix)
    out: dict[int, dict[str, str]] = {}
    for k in attrs:
        if k.startswith(prefix):
            idx, _, sub = k[plen:].partition(".")
            if sub and idx.isascii() and idx.isdigit() and len(idx) < 7:
                out.setdefault(int(idx), {})[sub] = k
    return out


def _tool_calls_flat(
    attrs: dict[str, Any], keys: dict[str, str], prefix: str, names: dict[str, str], used: list[str]
) -> list[ToolCallRequest]:
    """Tool calls under ``{prefix}{j}.{sub}`` within one message's keys; ``names`` maps sub-keys to fields."""
    calls: dict[int, dict[str, Any]] = {}
    plen = len(prefix)
    for sub, full in keys.items():
        if sub.startswith(prefix):
            j, _, field = sub[plen:].partition(".")
            target = names.get(field)
            if target is not None and j.isascii() and j.isdigit() and len(j) < 7:
                calls.setdefault(int(j), {})[target] = attrs[full]
                used.append(full)
    return [
        ToolCallRequest(
            name=c["name"] if isinstance(c.get("name"), str) else "",
            id=_opt_str(c.get("id")),
            arguments=maybe_json(c.get("arguments")),
        )
        for _, c in sorted(calls.items())
    ]


_OI_CALL_FIELDS = {"tool_call.id": "id", "tool_call.function.name": "name", "tool_call.function.arguments": "arguments"}
_TL_CALL_FIELDS = {"id": "id", "name": "name", "arguments": "arguments"}


def openinference_messages(attrs: dict[str, Any], prefix: str, default_role: str) -> tuple[list[Message], list[str]]:
    """``llm.input_messages.{i}.message.*`` (or output) as messages; also returns the keys used."""
    used: list[str] = []
    out: list[Message] = []
    for _, keys in sorted(_groups(attrs, prefix).items()):
        msg = Message(role=default_role)
        texts: list[str] = []
        for field, target in (("message.role", "role"), ("message.name", "name"), ("message.tool_call_id", "tcid")):
            full = keys.get(field)
            if full is not None and isinstance(attrs[full], str):
                used.append(full)
                if target == "role":
                    msg.role = attrs[full] or default_role
                elif target == "name":
                    msg.name = attrs[full] or None
                else:
                    msg.tool_call_id = attrs[full] or None
        full = keys.get("message.content")
        if full is not None and isinstance(attrs[full], str):
            texts.append(attrs[full])
            used.append(full)
        # Multi-part contents: only text parts are read; images, audio etc. stay as attributes.
        contents: dict[int, dict[str, str]] = {}
        for sub, fk in keys.items():
            if sub.startswith("message.contents."):
                idx, _, field = sub[17:].partition(".")
                if idx.isascii() and idx.isdigit() and len(idx) < 7:
                    contents.setdefault(int(idx), {})[field] = fk
        for _, ck in sorted(contents.items()):
            tk, xk = ck.get("message_content.type"), ck.get("message_content.text")
            kind = attrs[tk] if tk is not None else "text"
            if xk is not None and len(ck) <= 2 and kind == "text" and isinstance(attrs[xk], str):
                texts.append(attrs[xk])
                used.append(xk)
                if tk is not None:
                    used.append(tk)
        msg.tool_calls = _tool_calls_flat(attrs, keys, "message.tool_calls.", _OI_CALL_FIELDS, used)
        fn, fa = keys.get("message.function_call_name"), keys.get("message.function_call_arguments_json")
        if fn is not None and isinstance(attrs[fn], str):
            args = maybe_json(attrs[fa]) if fa is not None else None
            msg.tool_calls.append(ToolCallRequest(name=attrs[fn], arguments=args))
            used.append(fn)
            if fa is not None:
                used.append(fa)
        if texts:
            msg.content = "\n".join(texts)
        out.append(msg)
    return out, used


def indexed_messages(
    attrs: dict[str, Any], prefix: str, default_role: str
) -> tuple[list[Message], list[str], list[str]]:
    """OpenLLMetry ``gen_ai.prompt.{i}.*`` / ``gen_ai.completion.{i}.*``: (messages, finish reasons, keys used)."""
    used: list[str] = []
    out: list[Message] = []
    reasons: list[str] = []
    for _, keys in sorted(_groups(attrs, prefix).items()):
        msg = Message(role=default_role)
        for field in ("role", "content", "name", "tool_call_id", "finish_reason"):
            full = keys.get(field)
            if full is None or not isinstance(attrs[full], str):
                continue
            used.append(full)
            v = attrs[full]
            if field == "role":
                msg.role = v or default_role
            elif field == "content":
                msg.content = v
            elif field == "name":
                msg.name = v or None
            elif field == "tool_call_id":
                msg.tool_call_id = v or None
            else:
                reasons.append(v)
        msg.tool_calls = _tool_calls_flat(attrs, keys, "tool_calls.", _TL_CALL_FIELDS, used)
        fn, fa = keys.get("function_call.name"), keys.get("function_call.arguments")
        if fn is not None and isinstance(attrs[fn], str):
            args = maybe_json(attrs[fa]) if fa is not None else None
            msg.tool_calls.append(ToolCallRequest(name=attrs[fn], arguments=args))
            used.append(fn)
            if fa is not None:
                used.append(fa)
        out.append(msg)
    return out, reasons, used


def text_list(attrs: dict[str, Any], prefix: str, sub: str, role: str) -> tuple[list[Message], list[str]]:
    """OpenInference ``llm.prompts.{i}.prompt.text`` / ``llm.choices.{i}.completion.text`` as messages."""
    used: list[str] = []
    out: list[Message] = []
    for _, keys in sorted(_groups(attrs, prefix).items()):
        full = keys.get(sub)
        if full is not None and isinstance(attrs[full], str):
            out.append(Message(role=role, content=attrs[full]))
            used.append(full)
    return out, used


# ---------------------------------------------------------------------------------------------------------------
# Span events (the older GenAI convention put one event per message on the span)

EVENT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}


def _event_body(attrs: dict[str, Any]) -> dict[str, Any] | None:
    body = maybe_json(attrs.get("gen_ai.event.content"))
    if isinstance(body, dict):
        return body
    if any(k in attrs for k in ("content", "message", "tool_calls", "parts")):
        return attrs
    return None


MESSAGE_EVENTS = frozenset([*EVENT_ROLES, "gen_ai.choice", "gen_ai.content.prompt", "gen_ai.content.completion"])


def event_messages(
    events: list[tuple[str, int, dict[str, Any]]],
) -> tuple[list[Message], list[Message], list[str], set[int], set[int]]:
    """(input messages, output messages, finish reasons, input events used, output events used)."""
    inputs: list[Message] = []
    outputs: list[Message] = []
    reasons: list[str] = []
    used_in: set[int] = set()
    used_out: set[int] = set()
    for i, (name, _, attrs) in enumerate(events):
        role = EVENT_ROLES.get(name)
        if role is not None:
            body = _event_body(attrs)
            if body is None:
                continue
            m, ok = message_from_dict(body, role)
            if ok:
                inputs.append(m)
                used_in.add(i)
        elif name == "gen_ai.choice":
            body = _event_body(attrs)
            if body is None:
                continue
            got = message_list([body], "assistant")
            if got is not None and got[2]:
                outputs.extend(got[0])
                reasons.extend(got[1])
                used_out.add(i)
        elif name == "gen_ai.content.prompt":
            got = message_list(attrs.get("gen_ai.prompt"), "user")
            if got is not None and got[2] and len(attrs) == 1:
                inputs.extend(got[0])
                used_in.add(i)
        elif name == "gen_ai.content.completion":
            got = message_list(attrs.get("gen_ai.completion"), "assistant")
            if got is not None and got[2] and len(attrs) == 1:
                outputs.extend(got[0])
                reasons.extend(got[1])
                used_out.add(i)
    return inputs, outputs, reasons, used_in, used_out
