"""Signed checkpoints: the C2SP tlog-checkpoint body inside a C2SP signed note, signed with Ed25519.

    example.com/watchkeeper/records            ← origin
    20852163                                   ← tree size, decimal, no leading zeros
    CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=   ← root hash, canonical base64 of 32 bytes
                                               ← blank line
    — example.com/watchkeeper/records Az3grl…  ← base64(key ID[4] ‖ Ed25519 signature over the text above)

Key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4] (c2sp.org/signed-note); verifier keys travel as
``<name>+<hex key ID>+<base64(0x01 ‖ public key)>`` and signer keys as ``PRIVATE+KEY+<name>+<hex>+<base64(0x01 ‖
seed)>``, the strings golang.org/x/mod/sumdb/note uses. Parsing is strict: every malformation raises
:class:`CheckpointError` naming the line and the rule. Verification follows the signed-note rules: unknown keys are
ignored, a known key whose signature fails rejects the whole note, and at least one known key must verify. A
verifier key may be *retired* at a tree size (key rotation): it still verifies checkpoints up to that size, and a
checkpoint beyond it that only it signed is rejected, so a leaked old key cannot sign new history.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from ..errors import InputError
from .merkle import HASH_SIZE, MAX_TREE_SIZE, ProofError, verify_consistency

ED25519 = 0x01  # the signed-note signature type byte
MAX_SIGNATURES = 16  # c2sp.org/signed-note: verifiers MUST accept at least 16; we accept exactly that many
MAX_NOTE_BYTES = 64 * 1024
_SIG_PREFIX = "— "
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
_HEX_ROOT = re.compile(r"[0-9a-f]{64}")
_HEX_ID = re.compile(r"[0-9a-f]{8}")


class CheckpointError(InputError):
    """A checkpoint, signed note or key is malformed or does not verify; the message says which rule failed."""

    status = 422
    title = "Checkpoint rejected"
    type_slug = "checkpoint-invalid"


class ForkError(CheckpointError):
    """Two checkpoints of one log cannot both be true: same size with different roots, or no consistency proof."""

    title = "Log fork detected"
    type_slug = "log-fork"


# ---------------------------------------------------------------------------------------------------------------
# Strict decoding helpers


def _b64(text: str, what: str) -> bytes:
    """Canonical standard base64 (RFC 4648 §4): padded, no whitespace, zero trailing bits."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise CheckpointError(f"{what} is not valid base64", field=what) from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise CheckpointError(f"{what} is not canonical base64 (padding or trailing bits)", field=what)
    return raw


def parse_root_hex(text: str) -> bytes:
    """32 bytes from a root written as 64 lowercase hex digits; any other case or length is refused."""
    if not isinstance(text, str) or not _HEX_ROOT.fullmatch(text):
        raise CheckpointError("a root hash in hex must be exactly 64 lowercase hex digits", field="root")
    return bytes.fromhex(text)


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _check_note_chars(text: str) -> None:
    for i, c in enumerate(text):
        if c < " " and c != "\n":
            raise CheckpointError(f"the note contains control character U+{ord(c):04X} at offset {i}", field="note")


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte signed-note key ID of an Ed25519 key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


# ---------------------------------------------------------------------------------------------------------------
# The checkpoint body


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: who (origin), how many leaves (size), and the RFC 6962 root at that size."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise CheckpointError("the origin must be one non-empty line", field="origin")
        _check_note_chars(self.origin)
        if not isinstance(self.size, int) or isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"the size must be an integer in [0, 2^63), got {self.size!r}", field="size")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise CheckpointError(f"the root must be {HASH_SIZE} bytes", field="root")
        for i, ext in enumerate(self.extensions):
            if not ext or "\n" in ext:
                raise CheckpointError(f"extension line {i + 1} must be one non-empty line", field="extensions")
            _check_note_chars(ext)

    def body(self) -> str:
        """The note text: origin, size, base64 root and extension lines, each ending in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii"), *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint_body(text: str) -> Checkpoint:
    """The checkpoint in a note text; refuses too few lines, non-canonical sizes and roots, and empty lines."""
    if not text.endswith("\n"):
        raise CheckpointError("the checkpoint text must end with a newline", field="note")
    _check_note_chars(text)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(f"a checkpoint needs at least 3 lines (origin, size, root), got {len(lines)}")
    origin, size_line, root_line, *ext = lines
    if not origin:
        raise CheckpointError("line 1 (origin) is empty", field="origin")
    if not _SIZE.fullmatch(size_line) or int(size_line) > MAX_TREE_SIZE:
        raise CheckpointError(
            "line 2 (size) must be a decimal number without sign, spaces or leading zeros, below 2^63", field="size"
        )
    root = _b64(root_line, "line 3 (root)")
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"line 3 (root) must decode to {HASH_SIZE} bytes, got {len(root)}", field="root")
    for i, line in enumerate(ext):
        if not line:
            raise CheckpointError(f"line {i + 4} (extension) is empty", field="extensions")
    return Checkpoint(origin, int(size_line), root, tuple(ext))


# ---------------------------------------------------------------------------------------------------------------
# Signed notes


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name, its 4-byte key ID, and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        return f"{_SIG_PREFIX}{self.name} {base64.b64encode(self.key_id + self.signature).decode('ascii')}\n"


@dataclass(frozen=True)
class SignedNote:
    """A note text (ending in a newline) and its signature lines, unverified."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def format(self) -> str:
        """The note as it travels: text, blank line, one line per signature."""
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def parse_note(note: str | bytes, max_signatures: int = MAX_SIGNATURES) -> SignedNote:
    """The text and signatures of a signed note, checked for form only (no signature is verified here)."""
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_BYTES:
            raise CheckpointError(f"the note is larger than {MAX_NOTE_BYTES} bytes", field="note")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("the note is not valid UTF-8", field="note") from None
    if len(note.encode("utf-8", "surrogatepass")) > MAX_NOTE_BYTES:
        raise CheckpointError(f"the note is larger than {MAX_NOTE_BYTES} bytes", field="note")
    _check_note_chars(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointError("the note has no blank line before its signatures", field="note")
    text, block = note[: split + 1], note[split + 2 :]
    if not block:
        raise CheckpointError("the note has no signature lines after its blank line", field="note")
    if not block.endswith("\n"):
        raise CheckpointError("the last signature line must end with a newline (trailing data?)", field="note")
    lines = block[:-1].split("\n")
    if len(lines) > max_signatures:
        raise CheckpointError(f"the note has {len(lines)} signatures; at most {max_signatures} are accepted")
    sigs: list[NoteSignature] = []
    for n, line in enumerate(lines, 1):
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointError(f"signature line {n} does not start with an em dash and a space (trailing data?)")
        parts = line[len(_SIG_PREFIX) :].split(" ")
        if len(parts) != 2:
            raise CheckpointError(f"signature line {n} must read '— <key name> <base64>'; key names have no spaces")
        name, b64 = parts
        if not _valid_name(name):
            raise CheckpointError(f"signature line {n} has no valid key name (non-empty, no spaces, no '+')")
        raw = _b64(b64, f"signature line {n}")
        if len(raw) < 5:
            raise CheckpointError(f"signature line {n} is shorter than a key ID and a signature")
        sigs.append(NoteSignature(name, raw[:4], raw[4:]))
    return SignedNote(text, tuple(sigs))


# ---------------------------------------------------------------------------------------------------------------
# Keys


@dataclass(frozen=True)
class Verifier:
    """A pinned Ed25519 verifier key; ``retired_at`` (a tree size) bounds what a rotated-out key may still verify."""

    name: str
    public_key: bytes
    retired_at: int | None = None
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        if not _valid_name(self.name):
            raise CheckpointError("a key name must be non-empty without spaces or '+'", field="key")
        if len(self.public_key) != 32:
            raise CheckpointError("an Ed25519 public key is 32 bytes", field="key")
        object.__setattr__(self, "key_id", key_id(self.name, self.public_key))

    @classmethod
    def from_vkey(cls, vkey: str, retired_at: int | None = None) -> Verifier:
        """Parses ``<name>+<hex key ID>+<base64(0x01 ‖ public key)>``; a key ID that does not match is forged."""
        name, _, rest = vkey.partition("+")
        hex_id, _, b64 = rest.partition("+")
        if not _valid_name(name) or not _HEX_ID.fullmatch(hex_id) or not b64:
            raise CheckpointError("a verifier key reads <name>+<8 lowercase hex>+<base64 key>", field="key")
        raw = _b64(b64, "verifier key")
        if raw[:1] != bytes([ED25519]):
            raise CheckpointError("the verifier key is not an Ed25519 (type 0x01) key", field="key")
        v = cls(name, raw[1:], retired_at)
        if v.key_id.hex() != hex_id:
            raise CheckpointError(
                f"verifier key {name}+{hex_id}: the key ID does not match the name and public key (forged?)",
                field="key",
            )
        return v

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(bytes([ED25519]) + self.public_key).decode()}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


class Signer:
    """An Ed25519 signing key with its note name."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        pub = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = Verifier(name, pub)
        self.name = name

    @classmethod
    def generate(cls, name: str) -> Signer:
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_skey(cls, skey: str) -> Signer:
        """Parses ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ 32-byte seed)>`` (the Go note format)."""
        parts = skey.split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _HEX_ID.fullmatch(parts[3]):
            raise CheckpointError("a signer key reads PRIVATE+KEY+<name>+<8 lowercase hex>+<base64 seed>", field="key")
        raw = _b64(parts[4], "signer key")
        if raw[:1] != bytes([ED25519]) or len(raw) != 33:
            raise CheckpointError("the signer key is not an Ed25519 (type 0x01) seed of 32 bytes", field="key")
        signer = cls(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier.key_id.hex() != parts[3]:
            raise CheckpointError("the signer key's ID does not match its name and key", field="key")
        return signer

    @property
    def skey(self) -> str:
        """The private key as a string; keep it out of logs and configuration files that others can read."""
        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        b64 = base64.b64encode(bytes([ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{b64}"

    def sign(self, text: str) -> NoteSignature:
        if not text.endswith("\n"):
            raise CheckpointError("a note text must end with a newline", field="note")
        return NoteSignature(self.name, self.verifier.key_id, self._key.sign(text.encode("utf-8")))

    def __repr__(self) -> str:
        return f"Signer({self.verifier.vkey!r})"  # never the private key


class SigningKeys:
    """The log's signing keys, oldest first: the newest signs, the older ones stay pinned (retired) for verifying."""

    def __init__(self, current: Signer, retired: Sequence[Verifier] = ()) -> None:
        self.current = current
        self.retired = list(retired)

    def rotate(self, new: Signer, at_size: int) -> None:
        """Makes ``new`` the signing key; the old one verifies checkpoints up to ``at_size`` leaves from now on."""
        old = self.current.verifier
        self.retired.append(Verifier(old.name, old.public_key, retired_at=at_size))
        self.current = new

    def verifiers(self) -> list[Verifier]:
        """What an auditor pins: every retired key with its bound, and the current key."""
        return [*self.retired, self.current.verifier]


# ---------------------------------------------------------------------------------------------------------------
# Signing and verifying checkpoints


def sign_checkpoint(checkpoint: Checkpoint, signers: Sequence[Signer]) -> str:
    """The signed note for ``checkpoint``, one signature line per signer, in order."""
    if not signers:
        raise CheckpointError("a checkpoint needs at least one signer")
    text = checkpoint.body()
    return SignedNote(text, tuple(s.sign(text) for s in signers)).format()


@dataclass(frozen=True)
class VerifiedCheckpoint:
    """A checkpoint whose note verified, with the keys that vouched for it and the signatures that were ignored."""

    checkpoint: Checkpoint
    verified_by: tuple[str, ...]  # vkeys
    unknown: tuple[NoteSignature, ...]
    note: str


class VerifierSet:
    """Pinned verifier keys, looked up by (name, key ID) as the signed-note rules require."""

    def __init__(self, verifiers: Iterable[Verifier]) -> None:
        self._by_id: dict[tuple[str, bytes], Verifier] = {}
        for v in verifiers:
            k = (v.name, v.key_id)
            if k in self._by_id and self._by_id[k].public_key != v.public_key:
                raise CheckpointError(f"two different pinned keys share name and ID {v.name}+{v.key_id.hex()}")
            self._by_id[k] = v

    def get(self, name: str, kid: bytes) -> Verifier | None:
        return self._by_id.get((name, kid))


def open_checkpoint(
    note: str | bytes,
    verifiers: VerifierSet | Iterable[Verifier],
    *,
    origin: str | None = None,
    max_signatures: int = MAX_SIGNATURES,
) -> VerifiedCheckpoint:
    """The checkpoint of a signed note, once at least one pinned key verified it; raises CheckpointError otherwise."""
    known = verifiers if isinstance(verifiers, VerifierSet) else VerifierSet(verifiers)
    parsed = parse_note(note, max_signatures)
    cp = parse_checkpoint_body(parsed.text)
    if origin is not None and cp.origin != origin:
        raise CheckpointError(f"the checkpoint is for origin {cp.origin!r}, expected {origin!r}", field="origin")
    message = parsed.text.encode("utf-8")
    verified: list[str] = []
    unknown: list[NoteSignature] = []
    for sig in parsed.signatures:
        v = known.get(sig.name, sig.key_id)
        if v is None:  # signed-note: unknown keys are ignored, even if they share a name or an ID with a known one
            unknown.append(sig)
            continue
        label = f"{v.name}+{v.key_id.hex()}"
        if not v.verify(message, sig.signature):
            raise CheckpointError(f"the signature by pinned key {label} does not verify: the note was altered")
        if v.retired_at is not None and cp.size > v.retired_at:
            raise CheckpointError(
                f"key {label} was retired at size {v.retired_at} but signs a checkpoint of size {cp.size} "
                "(an expired key signing new history)"
            )
        if v.vkey not in verified:
            verified.append(v.vkey)
    if not verified:
        raise CheckpointError("no signature from a pinned key: the checkpoint is not trusted (unknown signer?)")
    return VerifiedCheckpoint(cp, tuple(verified), tuple(unknown), parsed.format())


# ---------------------------------------------------------------------------------------------------------------
# Comparing checkpoints


def check_not_forked(a: Checkpoint, b: Checkpoint) -> None:
    """Raises ForkError if two checkpoints of one origin have the same size and different roots."""
    if a.origin == b.origin and a.size == b.size and a.root != b.root:
        raise ForkError(
            f"two checkpoints of {a.origin!r} at size {a.size} have different roots: the log showed two histories"
        )


def check_extends(older: Checkpoint, newer: Checkpoint, proof: Sequence[bytes]) -> None:
    """Raises ForkError unless ``newer`` extends ``older`` (same origin, consistency proof verifies)."""
    if older.origin != newer.origin:
        raise CheckpointError(f"checkpoints of different logs ({older.origin!r}, {newer.origin!r}) cannot be compared")
    check_not_forked(older, newer)
    if newer.size < older.size:
        raise ForkError(f"the log went back from size {older.size} to {newer.size} (rollback)")
    if older.size == 0:
        return  # every tree extends the empty one
    try:
        verify_consistency(older.size, newer.size, proof, older.root, newer.root)
    except ProofError as e:
        raise ForkError(f"size {newer.size} does not extend size {older.size}: {e.detail}") from None


# ---------------------------------------------------------------------------------------------------------------
# When to issue


@dataclass(frozen=True)
class IssuePolicy:
    """When the log signs a new checkpoint: every ``every_s`` seconds or ``every_leaves`` leaves, whichever first,
    and again after ``idle_s`` seconds without growth, so a verifier can tell "nothing happened" from "silenced"."""

    every_s: float = 10.0
    every_leaves: int = 10_000
    idle_s: float = 300.0

    def due(self, *, now: float, size: int, last_size: int | None, last_time: float | None) -> bool:
        """Whether a checkpoint should be signed now, given the last one's size and time (None: never signed)."""
        if last_size is None or last_time is None:
            return True
        grown = size - last_size
        if grown >= self.every_leaves:
            return True
        if grown > 0:
            return now - last_time >= self.every_s
        return now - last_time >= self.idle_s


__all__ = [
    "MAX_SIGNATURES",
    "Checkpoint",
    "CheckpointError",
    "ForkError",
    "IssuePolicy",
    "NoteSignature",
    "SignedNote",
    "Signer",
    "SigningKeys",
    "VerifiedCheckpoint",
    "Verifier",
    "VerifierSet",
    "check_extends",
    "check_not_forked",
    "key_id",
    "open_checkpoint",
    "parse_checkpoint_body",
    "parse_note",
    "parse_root_hex",
    "sign_checkpoint",
]
