"""The auditor's snippet in docs/trust.md, which shares no code with Watchkeeper, agrees with the log."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature

from watchkeeper.trust import Checkpoint, MemoryTreeStore, MerkleTree, Signer, sign_checkpoint

DOC = Path(__file__).resolve().parents[2] / "docs" / "trust.md"
ORIGIN = "example.com/watchkeeper/1/records"


def _snippet() -> dict[str, Any]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    return namespace


def test_the_documented_snippet_verifies_a_real_checkpoint_and_proof_and_catches_tampering() -> None:
    ns = _snippet()
    leaves = [b"leaf %d" % i for i in range(1000)]
    tree = MerkleTree(MemoryTreeStore())
    tree.append_leaves(leaves)
    signer = Signer.generate(ORIGIN)
    note = sign_checkpoint(Checkpoint(ORIGIN, tree.size(), tree.root()), [Signer.generate("witness.example/w"), signer])

    origin, size, root = ns["verify_checkpoint"](note, signer.verifier.vkey)
    assert (origin, size, root) == (ORIGIN, 1000, tree.root())
    for i in (0, 1, 511, 512, 998, 999):
        ns["verify_inclusion"](leaves[i], i, size, tree.inclusion_proof(i), root)

    with pytest.raises(AssertionError):
        ns["verify_inclusion"](b"leaf 1", 2, size, tree.inclusion_proof(2), root)
    with pytest.raises(InvalidSignature):
        ns["verify_checkpoint"](note.replace("\n1000\n", "\n1001\n"), signer.verifier.vkey)
    with pytest.raises(ValueError, match="no signature by the pinned key"):
        ns["verify_checkpoint"](note, Signer.generate(ORIGIN).verifier.vkey)
