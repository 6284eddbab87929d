"""The verifiable log over HTTP: the latest signed checkpoint, inclusion and consistency proofs, leaves, evidence.

Thin: each route parses, calls one method of ``trust.log.LogReader`` (off the event loop) and formats. Hashes and
leaf bytes are lowercase hex in JSON; bad input is an RFC 9457 problem (422 for a proof that cannot exist).
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse

from ..errors import InputError, NotFound
from ..trust.evidence import describe_leaf
from ..trust.log import LogReader
from ..trust.merkle import leaf_hash
from ..trust.roles import Permission
from ._auth import requires
from .api import PROBLEM

MAX_INDEX = 2**62  # leaf indexes and tree sizes are stored as signed 64-bit integers

router = APIRouter(prefix="/api/v1/log", tags=["verifiable log"], dependencies=[requires(Permission.READ_LOG)])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such leaf, or nothing signed yet", **PROBLEM}}
_BAD: dict[int | str, dict[str, Any]] = {
    422: {"description": "The proof cannot exist (index or sizes out of range)", **PROBLEM}
}
_TRACE = re.compile(r"[0-9a-f]{32}")
_SPAN = re.compile(r"[0-9a-f]{16}")


def _reader(request: Request) -> LogReader:
    reader: LogReader = request.app.state.log_reader
    return reader


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "The signed note"}, **_NOT_FOUND},
)
async def checkpoint(request: Request) -> PlainTextResponse:
    """The latest signed checkpoint (a C2SP signed note): verify it with the log's pinned public key."""
    cp = await asyncio.to_thread(_reader(request).latest_checkpoint)
    if cp is None:
        raise NotFound("no checkpoint has been signed yet; retry in a few seconds")
    return PlainTextResponse(cp.note, media_type="text/plain; charset=utf-8")


@router.get("/proof/inclusion", responses={**_NOT_FOUND, **_BAD})
async def inclusion(
    request: Request,
    index: Annotated[int, Query(ge=0, le=MAX_INDEX, description="Leaf index")],
    size: Annotated[
        int | None, Query(ge=1, le=MAX_INDEX, description="Tree size (default: the latest checkpoint's)")
    ] = None,
) -> dict[str, Any]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves, leaf to root (RFC 9162 §2.1.3)."""
    n, leaf, proof, root = await asyncio.to_thread(_reader(request).inclusion, index, size)
    return {"index": index, "size": n, "leaf_hash": leaf.hex(), "proof": [h.hex() for h in proof], "root": root.hex()}


@router.get("/proof/consistency", responses={**_NOT_FOUND, **_BAD})
async def consistency(
    request: Request,
    from_: Annotated[int, Query(alias="from", ge=1, le=MAX_INDEX, description="The older tree size")],
    to: Annotated[
        int | None, Query(ge=1, le=MAX_INDEX, description="The newer tree size (default: the latest checkpoint's)")
    ] = None,
) -> dict[str, Any]:
    """The proof that the tree of ``from`` leaves is a prefix of the tree of ``to`` leaves (RFC 9162 §2.1.4)."""
    n, proof, root1, root2 = await asyncio.to_thread(_reader(request).consistency, from_, to)
    return {"from": from_, "to": n, "proof": [h.hex() for h in proof], "root_from": root1.hex(), "root_to": root2.hex()}


@router.get("/leaves/{index}", responses=_NOT_FOUND)
async def leaf(request: Request, index: Annotated[int, Path(ge=0, le=MAX_INDEX)]) -> dict[str, Any]:
    """The leaf at ``index``: its bytes, its hash and its decoded fields (metadata only, never content)."""
    data = await asyncio.to_thread(_reader(request).leaf, index)
    return {"index": index, "leaf": data.hex(), "leaf_hash": leaf_hash(data).hex(), "record": describe_leaf(data)}


@router.get(
    "/evidence/{trace_id}/{span_id}",
    responses={**_NOT_FOUND, 409: {"description": "Not sequenced or not checkpointed yet", **PROBLEM}},
)
async def evidence(request: Request, trace_id: str, span_id: str) -> dict[str, Any]:
    """A self-contained evidence bundle for one span: leaf, inclusion proof and signed checkpoint (offline check:
    ``watchkeeper verify-evidence FILE --key VKEY``)."""
    if not _TRACE.fullmatch(trace_id):
        raise InputError("trace_id must be 32 lowercase hex digits", field="trace_id")
    if not _SPAN.fullmatch(span_id):
        raise InputError("span_id must be 16 lowercase hex digits", field="span_id")
    ev = await asyncio.to_thread(_reader(request).evidence, bytes.fromhex(trace_id), bytes.fromhex(span_id))
    out: dict[str, Any] = ev.to_json()
    return out
