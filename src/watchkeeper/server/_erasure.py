"""The erasure API: erase a data subject (privileged: needs the admin token)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from ..privacy.erasure import erase_subject
from ..trust.identity import Principal
from ..trust.roles import Permission
from ._auth import requires
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


@router.post(
    "/api/v1/erasures",
    tags=["privacy"],
    response_model=ErasureOut,
    responses={
        403: {"description": "No or wrong admin token", **PROBLEM},
        409: {"description": "A legal hold covers the subject's data", **PROBLEM},
    },
)
async def erase(request: Request, body: ErasureIn, who: Principal = requires(Permission.ERASE)) -> dict[str, Any]:
    """Erase a data subject: destroy their data keys, delete their content, record the erasure; returns the counts.
    Needs the privacy:erase permission (the admin role, or the admin token)."""
    rt: Runtime = request.app.state.runtime
    report = await asyncio.to_thread(erase_subject, rt.engine, body.subject_id, ring=rt.keyring)
    return report.as_dict()
