"""Trust: the verifiable log — RFC 6962 Merkle trees, signed C2SP checkpoints, and the leaves that commit to records.

    from watchkeeper import trust

    tree = trust.MerkleTree(trust.MemoryTreeStore())
    tree.append([trust.leaf_hash(leaf.encode())])             # leaf: a trust.RecordLeaf or trust.AccessLeaf
    signer = trust.Signer.generate("example.com/wk/records")
    note = trust.sign_checkpoint(trust.Checkpoint("example.com/wk/records", tree.size(), tree.root()), [signer])
    trust.open_checkpoint(note, [signer.verifier])              # raises CheckpointError unless a pinned key signed it

Pure modules: no database, no clock, no global state. docs/trust.md explains the log to an auditor.
"""

from __future__ import annotations

from .checkpoint import (
    MAX_SIGNATURES,
    Checkpoint,
    CheckpointError,
    ForkError,
    IssuePolicy,
    NoteSignature,
    SignedNote,
    Signer,
    SigningKeys,
    VerifiedCheckpoint,
    Verifier,
    VerifierSet,
    check_extends,
    check_not_forked,
    key_id,
    open_checkpoint,
    parse_checkpoint_body,
    parse_note,
    parse_root_hex,
    sign_checkpoint,
)
from .leaves import (
    AccessLeaf,
    LeafError,
    PayloadState,
    RecordLeaf,
    Removal,
    classify_payload,
    decode_leaf,
    payload_sha256,
    record_leaf,
)
from .merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    MemoryTreeStore,
    MerkleTree,
    ProofError,
    TreeStore,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    root_of,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_SIGNATURES",
    "AccessLeaf",
    "Checkpoint",
    "CheckpointError",
    "CompactRange",
    "ForkError",
    "IssuePolicy",
    "LeafError",
    "MemoryTreeStore",
    "MerkleTree",
    "NoteSignature",
    "PayloadState",
    "ProofError",
    "RecordLeaf",
    "Removal",
    "SignedNote",
    "Signer",
    "SigningKeys",
    "TreeStore",
    "VerifiedCheckpoint",
    "Verifier",
    "VerifierSet",
    "check_extends",
    "check_not_forked",
    "classify_payload",
    "decode_leaf",
    "key_id",
    "leaf_hash",
    "node_hash",
    "open_checkpoint",
    "parse_checkpoint_body",
    "parse_note",
    "parse_root_hex",
    "payload_sha256",
    "record_leaf",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "root_of",
    "sign_checkpoint",
    "verify_consistency",
    "verify_inclusion",
]
