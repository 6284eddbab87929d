"""Checkpoints and signed notes: the C2SP formats to the byte, strict parsing, and the signed-note trust rules."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from watchkeeper.trust.checkpoint import (
    MAX_SIGNATURES,
    Checkpoint,
    CheckpointError,
    ForkError,
    IssuePolicy,
    NoteSignature,
    SignedNote,
    Signer,
    SigningKeys,
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
from watchkeeper.trust.merkle import MemoryTreeStore, MerkleTree, leaf_hash

ORIGIN = "example.com/watchkeeper/records"
ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()

# golang.org/x/mod/sumdb/note note_test.go: a published key pair, text and the exact signed note it must produce
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

SIGNER = Signer.generate(ORIGIN)


def signed(body: str, signer: Signer = SIGNER) -> str:
    return SignedNote(body, (signer.sign(body),)).format()


# -- the formats, checked against published examples -----------------------------------------------------------


def test_signing_the_go_reference_text_gives_the_reference_note_byte_for_byte() -> None:
    signer = Signer.from_skey(PETER_SKEY)
    assert signer.verifier.vkey == PETER_VKEY
    assert signer.skey == PETER_SKEY
    assert SignedNote(GO_TEXT, (signer.sign(GO_TEXT),)).format() == GO_TEXT + "\n" + PETER_SIG


def test_the_key_id_is_the_first_four_bytes_of_sha256_of_name_newline_type_and_key() -> None:
    v = Verifier.from_vkey(PETER_VKEY)
    assert key_id("PeterNeumann", v.public_key).hex() == "c74f20a3" == v.key_id.hex()


def test_a_reference_note_with_one_pinned_and_one_unknown_signature_opens_with_the_unknown_one_ignored() -> None:
    note = parse_note(GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG)
    assert note.text == GO_TEXT and [s.name for s in note.signatures] == ["PeterNeumann", "EnochRoot"]
    # the Go text is not a checkpoint, so check the signature rules on a checkpoint signed by the same key
    peter = Signer.from_skey(PETER_SKEY)
    cp = Checkpoint(ORIGIN, 5, ROOT)
    enoch_line = ENOCH_SIG  # a foreign signature line: unknown key, ignored
    got = open_checkpoint(sign_checkpoint(cp, [peter]) + enoch_line, [Verifier.from_vkey(PETER_VKEY)])
    assert got.checkpoint == cp and got.verified_by == (PETER_VKEY,)
    assert [s.name for s in got.unknown] == ["EnochRoot"]
    with pytest.raises(CheckpointError, match="no signature from a pinned key"):
        open_checkpoint(sign_checkpoint(cp, [peter]), [Verifier.from_vkey(ENOCH_VKEY)])


def test_the_tlog_checkpoint_spec_example_body_parses() -> None:
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    cp = parse_checkpoint_body(body)
    assert (cp.origin, cp.size, len(cp.root)) == ("example.com/behind-the-sofa", 20852163, 32)
    assert cp.body() == body


def test_a_checkpoint_round_trips_through_format_sign_parse_and_verify() -> None:
    cp = Checkpoint(ORIGIN, 20852163, ROOT, ("ext one", "ext two"))
    assert parse_checkpoint_body(cp.body()) == cp
    note = sign_checkpoint(cp, [SIGNER])
    assert note.startswith(f"{ORIGIN}\n20852163\n{ROOT_B64}\next one\next two\n\n— {ORIGIN} ")
    got = open_checkpoint(note, [SIGNER.verifier], origin=ORIGIN)
    assert got.checkpoint == cp and got.note == note
    assert open_checkpoint(note.encode(), VerifierSet([SIGNER.verifier])).checkpoint == cp


def test_the_empty_tree_checkpoint_has_size_zero() -> None:
    assert parse_checkpoint_body(f"{ORIGIN}\n0\n{ROOT_B64}\n").size == 0


# -- malformed checkpoints and notes: each rejected, each with a precise message --------------------------------

MALFORMED_BODIES = {
    "too few lines": (f"{ORIGIN}\n5\n", "at least 3 lines"),
    "only the origin": (f"{ORIGIN}\n", "at least 3 lines"),
    "empty origin": (f"\n5\n{ROOT_B64}\n", "origin"),
    "negative size": (f"{ORIGIN}\n-5\n{ROOT_B64}\n", "line 2 \\(size\\)"),
    "plus sign": (f"{ORIGIN}\n+5\n{ROOT_B64}\n", "line 2 \\(size\\)"),
    "leading zero": (f"{ORIGIN}\n05\n{ROOT_B64}\n", "leading zeros"),
    "space in size": (f"{ORIGIN}\n5 \n{ROOT_B64}\n", "line 2 \\(size\\)"),
    "non-ASCII digits": (f"{ORIGIN}\n٥\n{ROOT_B64}\n", "line 2 \\(size\\)"),
    "exponent": (f"{ORIGIN}\n1e3\n{ROOT_B64}\n", "line 2 \\(size\\)"),
    "size too large": (f"{ORIGIN}\n{2**63}\n{ROOT_B64}\n", "below 2\\^63"),
    "size far too large": (f"{ORIGIN}\n{'9' * 40}\n{ROOT_B64}\n", "below 2\\^63"),
    "root not base64": (f"{ORIGIN}\n5\n{'!' * 44}\n", "line 3 \\(root\\) is not valid base64"),
    "root as hex": (f"{ORIGIN}\n5\n{ROOT.hex()}\n", "line 3 \\(root\\)"),
    "root unpadded": (f"{ORIGIN}\n5\n{ROOT_B64.rstrip('=')}\n", "line 3 \\(root\\)"),
    "root short": (f"{ORIGIN}\n5\n{base64.b64encode(ROOT[:31]).decode()}\n", "32 bytes, got 31"),
    "root long": (f"{ORIGIN}\n5\n{base64.b64encode(ROOT + b'x').decode()}\n", "32 bytes, got 33"),
    "root non-canonical bits": (f"{ORIGIN}\n5\n{ROOT_B64[:42]}9=\n", "not canonical"),
    "root with trailing data": (f"{ORIGIN}\n5\n{ROOT_B64} x\n", "line 3 \\(root\\)"),
    "empty extension line": (f"{ORIGIN}\n5\n{ROOT_B64}\n\nx\n", "line 4 \\(extension\\) is empty"),
    "carriage return": (f"{ORIGIN}\r\n5\n{ROOT_B64}\n", "control character U\\+000D"),
    "no final newline": (f"{ORIGIN}\n5\n{ROOT_B64}", "end with a newline"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_BODIES))
def test_a_malformed_checkpoint_body_is_rejected_with_a_precise_error(case: str) -> None:
    body, message = MALFORMED_BODIES[case]
    with pytest.raises(CheckpointError, match=message):
        parse_checkpoint_body(body)
    if body.endswith("\n") and "\r" not in body:  # also through the whole signed-note path
        with pytest.raises(CheckpointError, match=message):
            open_checkpoint(signed(body), [SIGNER.verifier])


GOOD = Checkpoint(ORIGIN, 5, ROOT).body()

MALFORMED_NOTES = {
    "no blank line": (GOOD + SIGNER.sign(GOOD).line(), "no blank line"),
    "no signatures": (GOOD + "\n", "no signature lines"),
    "trailing data after signatures": (signed(GOOD) + "Unexpected line.\n", "signature line 2 does not start"),
    "trailing data without newline": (signed(GOOD) + "x", "must end with a newline"),
    "missing final newline": (signed(GOOD)[:-1], "must end with a newline"),
    "hyphen instead of em dash": (signed(GOOD).replace("— ", "- "), "does not start with an em dash"),
    "name with a space": (signed(GOOD).replace(f"— {ORIGIN} ", "— bad name "), "key names have no spaces"),
    "name with a plus": (signed(GOOD).replace(f"— {ORIGIN} ", "— a+b "), "no valid key name"),
    "signature not base64": (GOOD + "\n— k !!!!\n", "signature line 1 is not valid base64"),
    "signature too short": (GOOD + "\n— k AAAA\n", "shorter than a key ID"),
    "tab in text": (GOOD.replace("\n5\n", "\n5\t\n") + "\n" + SIGNER.sign(GOOD).line(), "U\\+0009"),
    "too many signatures": (
        GOOD + "\n" + "".join(Signer.generate(f"w{i}").sign(GOOD).line() for i in range(MAX_SIGNATURES + 1)),
        f"has {MAX_SIGNATURES + 1} signatures",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_NOTES))
def test_a_malformed_signed_note_is_rejected_with_a_precise_error(case: str) -> None:
    note, message = MALFORMED_NOTES[case]
    with pytest.raises(CheckpointError, match=message):
        open_checkpoint(note, [SIGNER.verifier])


def test_a_note_that_is_not_utf8_or_too_large_is_rejected() -> None:
    with pytest.raises(CheckpointError, match="not valid UTF-8"):
        open_checkpoint(b"\xff" + signed(GOOD).encode(), [SIGNER.verifier])
    with pytest.raises(CheckpointError, match="larger than"):
        open_checkpoint(b"x" * 70_000, [SIGNER.verifier])


def test_sixteen_signatures_are_accepted() -> None:
    others = "".join(Signer.generate(f"w{i}").sign(GOOD).line() for i in range(MAX_SIGNATURES - 1))
    got = open_checkpoint(signed(GOOD) + others, [SIGNER.verifier])
    assert len(got.unknown) == MAX_SIGNATURES - 1


def test_a_root_differing_only_in_case_is_rejected() -> None:
    # hex from an API response: only the canonical lowercase form is accepted
    assert parse_root_hex(ROOT.hex()) == ROOT
    with pytest.raises(CheckpointError, match="64 lowercase hex digits"):
        parse_root_hex(ROOT.hex().upper())
    with pytest.raises(CheckpointError, match="64 lowercase hex digits"):
        parse_root_hex(ROOT.hex()[:-1] + "F")
    # base64 in the note: flipping the case of one letter changes the bytes, so the signature no longer covers it
    note = signed(GOOD)
    i = next(i for i, c in enumerate(ROOT_B64[:40]) if c.isalpha())
    flipped = ROOT_B64[:i] + ROOT_B64[i].swapcase() + ROOT_B64[i + 1 :]
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(note.replace(ROOT_B64, flipped), [SIGNER.verifier])


# -- trust rules --------------------------------------------------------------------------------------------------


def test_a_signature_by_a_key_with_the_right_name_but_another_key_is_not_trusted() -> None:
    impostor = Signer.generate(ORIGIN)  # same name, different key → different key ID → unknown, ignored
    with pytest.raises(CheckpointError, match="no signature from a pinned key"):
        open_checkpoint(signed(GOOD, impostor), [SIGNER.verifier])


def test_a_note_altered_and_re_signed_with_an_unknown_key_is_rejected() -> None:
    forged_body = Checkpoint(ORIGIN, 6, bytes(32)).body()
    attacker = Signer.generate("attacker.example/log")
    with pytest.raises(CheckpointError, match="no signature from a pinned key"):
        open_checkpoint(signed(forged_body, attacker), [SIGNER.verifier])


def test_a_pinned_key_whose_signature_fails_rejects_the_whole_note() -> None:
    other = signed(Checkpoint(ORIGIN, 6, ROOT).body())
    sig_line = other.split("\n\n")[1]
    with pytest.raises(CheckpointError, match=f"pinned key {ORIGIN}\\+{SIGNER.verifier.key_id.hex()} does not verify"):
        open_checkpoint(GOOD + "\n" + sig_line, [SIGNER.verifier])
    # …even if another pinned key signed correctly
    second = Signer.generate("witness.example/w1")
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(GOOD + "\n" + second.sign(GOOD).line() + sig_line, [SIGNER.verifier, second.verifier])


def test_a_checkpoint_for_another_origin_is_rejected() -> None:
    with pytest.raises(CheckpointError, match=r"expected 'example\.com/other'"):
        open_checkpoint(signed(GOOD), [SIGNER.verifier], origin="example.com/other")


def test_a_forged_or_mangled_verifier_key_is_rejected() -> None:
    assert Verifier.from_vkey(PETER_VKEY).vkey == PETER_VKEY
    name, kid, key = PETER_VKEY.split("+")
    with pytest.raises(CheckpointError, match="does not match the name and public key"):
        Verifier.from_vkey(f"{name}+c74f20a4+{key}")
    with pytest.raises(CheckpointError, match="does not match"):
        Verifier.from_vkey(f"PeterNeuman+{kid}+{key}")
    with pytest.raises(CheckpointError, match="not an Ed25519"):
        Verifier.from_vkey(f"{name}+{kid}+Z{key[1:]}")
    for bad in (
        PETER_VKEY[:-4],
        f"{name}+{kid.upper()}+{key}",
        f"{name}+{kid}",
        f"+{kid}+{key}",
        "",
        f"a b+{kid}+{key}",
    ):
        with pytest.raises(CheckpointError):
            Verifier.from_vkey(bad)
    with pytest.raises(CheckpointError):
        Signer.from_skey(PETER_SKEY.replace("c74f20a3", "c74f20a4"))


def test_two_different_pinned_keys_with_the_same_name_and_id_are_refused() -> None:
    v = Verifier.from_vkey(PETER_VKEY)
    clash = Verifier(v.name, bytes(32))
    object.__setattr__(clash, "key_id", v.key_id)  # a deliberately colliding key ID
    with pytest.raises(CheckpointError, match="share name and ID"):
        VerifierSet([v, clash])


def test_key_rotation_keeps_old_checkpoints_verifiable_and_refuses_the_old_key_for_new_history() -> None:
    old = Signer.generate(ORIGIN)
    ring = SigningKeys(old)
    early = sign_checkpoint(Checkpoint(ORIGIN, 10, ROOT), [ring.current])
    ring.rotate(Signer.generate(ORIGIN), at_size=10)
    late = sign_checkpoint(Checkpoint(ORIGIN, 20, ROOT), [ring.current])
    pinned = ring.verifiers()
    assert open_checkpoint(early, pinned).checkpoint.size == 10
    assert open_checkpoint(late, pinned).checkpoint.size == 20
    # the new key is trusted only once it is pinned
    with pytest.raises(CheckpointError, match="no signature from a pinned key"):
        open_checkpoint(late, [old.verifier])
    # a leaked old key cannot sign history past its retirement
    leaked = sign_checkpoint(Checkpoint(ORIGIN, 11, ROOT), [old])
    with pytest.raises(CheckpointError, match="retired at size 10 but signs a checkpoint of size 11"):
        open_checkpoint(leaked, pinned)


def test_signing_needs_a_signer_and_a_text_ending_in_newline() -> None:
    with pytest.raises(CheckpointError, match="at least one signer"):
        sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), [])
    with pytest.raises(CheckpointError, match="end with a newline"):
        SIGNER.sign("no newline")
    assert "PRIVATE" not in repr(SIGNER)


def test_checkpoint_fields_are_validated() -> None:
    with pytest.raises(CheckpointError, match="origin"):
        Checkpoint("", 1, ROOT)
    with pytest.raises(CheckpointError, match="size"):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(CheckpointError, match="root"):
        Checkpoint(ORIGIN, 1, ROOT[:4])
    with pytest.raises(CheckpointError, match="extension"):
        Checkpoint(ORIGIN, 1, ROOT, ("",))


def test_a_signature_line_formats_as_name_and_base64_of_id_and_signature() -> None:
    s = NoteSignature("k", b"\x01\x02\x03\x04", b"\x05")
    assert s.line() == "— k AQIDBAU=\n"


# -- forks and rollbacks ----------------------------------------------------------------------------------------


def _tree(n: int) -> MerkleTree:
    t = MerkleTree(MemoryTreeStore(stride=2))
    t.append([leaf_hash(b"%d" % i) for i in range(n)])
    return t


def test_two_checkpoints_of_the_same_size_with_different_roots_are_a_fork() -> None:
    a = Checkpoint(ORIGIN, 7, _tree(7).root())
    b = Checkpoint(ORIGIN, 7, ROOT)
    check_not_forked(a, a)
    with pytest.raises(ForkError, match="two histories"):
        check_not_forked(a, b)
    with pytest.raises(ForkError):
        check_extends(a, b, [])


def test_a_newer_checkpoint_extends_an_older_one_only_with_a_valid_proof() -> None:
    t = _tree(13)
    older, newer = Checkpoint(ORIGIN, 6, t.root(6)), Checkpoint(ORIGIN, 13, t.root())
    check_extends(older, newer, t.consistency_proof(6))
    check_extends(Checkpoint(ORIGIN, 0, t.root(0)), newer, [])
    other = _tree(6)  # a different history of 6 leaves … extended to 13
    other.append([leaf_hash(b"x%d" % i) for i in range(7)])
    with pytest.raises(ForkError, match="does not extend size 6"):
        check_extends(older, Checkpoint(ORIGIN, 13, other.root()), t.consistency_proof(6))
    with pytest.raises(ForkError, match="rollback"):
        check_extends(newer, older, [])
    with pytest.raises(CheckpointError, match="different logs"):
        check_extends(older, Checkpoint("example.com/other", 13, t.root()), [])


def test_a_checkpoint_is_issued_every_n_seconds_or_m_leaves_and_again_when_idle() -> None:
    p = IssuePolicy(every_s=10, every_leaves=100, idle_s=300)
    assert p.due(now=0, size=0, last_size=None, last_time=None)
    assert not p.due(now=5, size=50, last_size=0, last_time=0)
    assert p.due(now=5, size=100, last_size=0, last_time=0)
    assert p.due(now=10, size=1, last_size=0, last_time=0)
    assert not p.due(now=299, size=0, last_size=0, last_time=0)
    assert p.due(now=300, size=0, last_size=0, last_time=0)


def test_a_fixed_key_and_fixed_leaves_always_give_the_same_root_and_checkpoint_text() -> None:
    seed = hashlib.sha256(b"watchkeeper golden key").digest()
    signer = Signer("example.com/wk/records", Ed25519PrivateKey.from_private_bytes(seed))
    tree = MerkleTree(MemoryTreeStore())
    tree.append_leaves([b"a", b"b", b"c"])
    assert tree.root().hex() == "36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1"
    assert signer.verifier.vkey == "example.com/wk/records+776dd311+AU/tcy4eBH1hOQOzZe4QY8077FHl5YkuvGrR1RqAbex4"
    assert sign_checkpoint(Checkpoint("example.com/wk/records", 3, tree.root()), [signer]) == (
        "example.com/wk/records\n3\nNmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE=\n\n"
        "— example.com/wk/records "
        "d23TEZ40smI1MRV75iz5IcqC8lugmdIU2juoX3EX1XEMv0LICr8FMCiIUJgsXAAUXylIP6ICrqf/orYA1lx3iQlbsQg=\n"
    )
