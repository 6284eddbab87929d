"""Evidence bundles: one record's leaf, its inclusion proof and the signed checkpoint it leads to, in one JSON file.

A bundle verifies offline with the pinned verifier keys and nothing else (the C2SP ``tlog-proof`` idea, in JSON so
it also carries the decoded record and, optionally, the stored payload blob):

    {"format": "watchkeeper-evidence/1", "index": 41, "leaf": "776b0101…", "record": {…decoded leaf…},
     "proof": ["ab12…", …], "checkpoint": "<signed note>", "payload": "<base64 of the stored blob>" | null}

Hashes and leaf bytes are lowercase hex; ``record`` is informational but must equal the decoded leaf, so a bundle
cannot show one thing and prove another.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .checkpoint import CheckpointError, VerifiedCheckpoint, Verifier, open_checkpoint
from .leaves import LeafError, RecordLeaf, decode_leaf
from .merkle import ProofError, leaf_hash, verify_inclusion

FORMAT = "watchkeeper-evidence/1"


class EvidenceError(ProofError):
    """An evidence bundle is malformed or does not verify; the message says which check failed."""

    title = "Evidence does not verify"
    type_slug = "evidence-invalid"


def describe_leaf(leaf: bytes) -> dict[str, Any]:
    """The fields of a leaf as JSON values (bytes as lowercase hex)."""
    obj = decode_leaf(leaf)
    out: dict[str, Any] = {"type": "record" if isinstance(obj, RecordLeaf) else "access"}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v is not None:
            out[f.name] = v.hex() if isinstance(v, bytes) else v
    return out


@dataclass(frozen=True)
class Evidence:
    index: int
    leaf: bytes
    proof: tuple[bytes, ...]
    checkpoint: str
    payload: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "index": self.index,
            "leaf": self.leaf.hex(),
            "leaf_hash": leaf_hash(self.leaf).hex(),
            "record": describe_leaf(self.leaf),
            "proof": [h.hex() for h in self.proof],
            "checkpoint": self.checkpoint,
            "payload": None if self.payload is None else base64.b64encode(self.payload).decode("ascii"),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


def _hex(v: object, what: str) -> bytes:
    if not isinstance(v, str) or v != v.lower():
        raise EvidenceError(f"{what} must be lowercase hex", field=what)
    try:
        return bytes.fromhex(v)
    except ValueError:
        raise EvidenceError(f"{what} is not valid hex", field=what) from None


def load_evidence(text: str | bytes) -> tuple[Evidence, dict[str, Any]]:
    """The bundle in a JSON document (and the document); checks its form only."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise EvidenceError("the evidence file is not JSON", field="evidence") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise EvidenceError(f"not a {FORMAT} bundle", field="format")
    index = doc.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise EvidenceError("index must be a non-negative integer", field="index")
    proof = doc.get("proof")
    if not isinstance(proof, list):
        raise EvidenceError("proof must be a list of hex hashes", field="proof")
    note = doc.get("checkpoint")
    if not isinstance(note, str):
        raise EvidenceError("checkpoint must be the signed note text", field="checkpoint")
    payload = doc.get("payload")
    blob: bytes | None = None
    if payload is not None:
        try:
            blob = base64.b64decode(str(payload).encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise EvidenceError("payload must be base64", field="payload") from None
    ev = Evidence(
        index=index,
        leaf=_hex(doc.get("leaf"), "leaf"),
        proof=tuple(_hex(h, f"proof[{i}]") for i, h in enumerate(proof)),
        checkpoint=note,
        payload=blob,
    )
    return ev, doc


@dataclass(frozen=True)
class EvidenceResult:
    checkpoint: VerifiedCheckpoint
    record: dict[str, Any]
    payload: str  # present | absent | none


def verify_evidence(text: str | bytes, verifiers: Iterable[Verifier]) -> EvidenceResult:
    """Checks a bundle offline: the note against the pinned keys, the leaf's inclusion, the record and payload."""
    ev, doc = load_evidence(text)
    try:
        record = describe_leaf(ev.leaf)
    except LeafError as e:
        raise EvidenceError(f"the leaf does not decode: {e.detail}", field="leaf") from None
    if "record" in doc and doc["record"] != record:
        raise EvidenceError("the bundle's record does not match its leaf", field="record")
    try:
        vc = open_checkpoint(ev.checkpoint, list(verifiers))
    except CheckpointError as e:
        raise EvidenceError(f"checkpoint: {e.detail}", field="checkpoint") from None
    cp = vc.checkpoint
    try:
        verify_inclusion(ev.index, cp.size, leaf_hash(ev.leaf), list(ev.proof), cp.root)
    except ProofError as e:
        raise EvidenceError(f"inclusion: {e.detail}", field="proof") from None
    state = "none"
    committed = record.get("payload_sha256")
    if ev.payload is not None:
        if committed is None or hashlib.sha256(ev.payload).hexdigest() != committed:
            raise EvidenceError("the payload does not hash to the leaf's payload_sha256", field="payload")
        state = "present"
    elif committed is not None:
        state = "absent"
    return EvidenceResult(vc, record, state)


__all__ = ["FORMAT", "Evidence", "EvidenceError", "EvidenceResult", "describe_leaf", "load_evidence", "verify_evidence"]
