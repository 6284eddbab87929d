"""The erasure API: erase a data subject (privileged: needs the admin token)."""

from __future__ import annotations

import asyncio
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field

from ..errors import Forbidden
from ..privacy.erasure import erase_subject
from ._runtime import Runtime
from .api import PROBLEM

router = APIRouter()


class ErasureIn(BaseModel):
    subject_id: Annotated[str, Field(min_length=1, max_length=256, description="The subject id to erase")]


class ErasureOut(BaseModel):
    subject_id: str
    traces: int
    span_payloads_deleted: int
    feedback_payloads_deleted: int
    keys_destroyed: int
    wal_truncated: bool
    started_ns: int
    finished_ns: int


def _authorise(rt: Runtime, authorization: str | None) -> None:
    token = rt.settings.admin_token
    if not token:
        raise Forbidden("erasure over the API is disabled: set admin_token (WATCHKEEPER_ADMIN_TOKEN) to enable it")
    sent = (authorization or "").removeprefix("Bearer ").strip()
    if not sent or not hmac.compare_digest(sent.encode(), token.encode()):
        raise Forbidden("send the admin token as 'Authorization: Bearer <token>'")


@router.post(
    "/api/v1/erasures",
    tags=["privacy"],
    response_model=ErasureOut,
    responses={
        403: {"description": "No or wrong admin token", **PROBLEM},
        409: {"description": "A legal hold covers the subject's data", **PROBLEM},
    },
)
async def erase(
    request: Request, body: ErasureIn, authorization: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    """Erase a data subject: destroy their data keys, delete their content, record the erasure; returns the counts."""
    rt: Runtime = request.app.state.runtime
    _authorise(rt, authorization)
    report = await asyncio.to_thread(erase_subject, rt.engine, body.subject_id, ring=rt.keyring)
    return report.as_dict()
