"""Helpers for the access tests: a server with one user and one API key per role, and a trace with a canary."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from watchkeeper.config import Settings
from watchkeeper.server import create_app
from watchkeeper.trust import identity
from watchkeeper.trust.roles import ROLES

PASSWORD = "correct horse battery staple"


@dataclass
class World:
    client: TestClient
    engine: Engine
    ids: dict[str, int] = field(default_factory=dict)  # role name -> principal id
    keys: dict[str, str] = field(default_factory=dict)  # role name -> API key with all of the role's permissions

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def canary() -> str:
    return f"canary-{secrets.token_hex(8)}"


def trace_doc(
    trace_id: str, *, session: str, subject: str, text: str, project_key: str | None = None
) -> dict[str, object]:
    now = time.time_ns() - 60_000_000_000
    return {
        "trace_id": trace_id,
        "span_id": secrets.token_hex(8),
        "name": "chat",
        "kind": "llm",
        "start_time_ns": now,
        "end_time_ns": now + 500_000,
        "subject_id": subject,
        "session_id": session,
        "llm": {"request_model": "gpt-4o-mini", "input_messages": [{"role": "user", "content": text}]},
    }


def world(data_dir: Path, database_url: str = "", **settings: object) -> Iterator[World]:
    """A running app (TestClient over https) with a principal and a full-permission key for every role."""
    s = Settings(data_dir=str(data_dir), database_url=database_url, admin_token="bootstrap-admin-token", **settings)  # type: ignore[arg-type]
    with TestClient(create_app(s), base_url="https://testserver") as client:
        engine = client.app.state.runtime.engine  # type: ignore[attr-defined]
        w = World(client, engine)
        for role, perms in ROLES.items():
            kind = "service" if role == "ingest" else "user"
            pid = identity.create_principal(
                engine, f"{role}-1", kind=kind, roles=[role], password=PASSWORD if kind == "user" else None
            )
            w.ids[role] = pid
            w.keys[role], _ = identity.create_key(engine, pid, name=f"{role} key", scopes=[p.value for p in perms])
        yield w
