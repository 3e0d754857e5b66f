"""Redaction of action fields: commit-and-reveal, destruction, markers and the reveal store.

A redacted field's value is replaced, in the signed receipt, by a marker. ``commit`` keeps a
salted BLAKE3 commitment to the value, so whoever holds the value (heso never writes it) can
later prove it matches; the salt stays in the local :class:`RevealStore`, never in a receipt.
``destroy`` keeps nothing. The contract is ``docs/spec/redaction.md``.
"""

from __future__ import annotations

import enum
import hmac
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3

from heso import durable, fieldpath
from heso.canonical import canonical_bytes, loads_strict, to_json_value
from heso.errors import CanonicalizationError, HesoConfigError

__all__ = [
    "COMMITMENT_PREFIX",
    "MARKER_KEY",
    "REVEAL_FILE",
    "SALT_BYTES",
    "Commitment",
    "RedactStrategy",
    "RevealEntry",
    "RevealStore",
    "commitment_of",
    "is_marker",
    "merge_redact_specs",
    "normalize_redact_spec",
    "redact",
    "verify_reveal",
]

MARKER_KEY = "heso_redacted"
COMMITMENT_PREFIX = "blake3:"
SALT_BYTES = 32
REVEAL_FILE = "salts.jsonl"
"""The reveal store's file inside its directory (``heso-local-data/reveal/``)."""

_COMMITMENT = re.compile(r"blake3:[0-9a-f]{64}\Z")


class RedactStrategy(str, enum.Enum):
    """How a field is redacted: ``commit`` (revealable later) or ``destroy`` (gone)."""

    COMMIT = "commit"
    DESTROY = "destroy"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Commitment:
    """A commitment made by :func:`redact`; ``salt`` belongs in the reveal store only."""

    path: str
    commitment: str
    salt: bytes = field(repr=False)


@dataclass(frozen=True)
class RevealEntry:
    """One line of the reveal store."""

    action_hash: str
    path: str
    commitment: str
    salt: bytes = field(repr=False)


# --------------------------------------------------------------------------- specs


def normalize_redact_spec(spec: Any) -> dict[str, RedactStrategy]:
    """``None``, a list/tuple/set of field paths (all ``commit``) or a mapping path → strategy,
    as ``{canonical path: RedactStrategy}``. Raises :class:`HesoConfigError` naming a bad path
    or strategy. The same path given twice (in any spelling) keeps the stronger strategy.
    """
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        items: Iterable[tuple[Any, Any]] = spec.items()
    elif isinstance(spec, (list, tuple, set, frozenset)):
        items = ((path, RedactStrategy.COMMIT) for path in spec)
    elif isinstance(spec, str):
        raise HesoConfigError(
            f"a redaction spec must be a list of field paths, not the string {spec!r}",
            key=spec,
            hint=f'write ["{spec}"]',
        )
    else:
        raise HesoConfigError(
            "a redaction spec must be a list of field paths or a mapping of path to "
            f"'commit'/'destroy', not {type(spec).__name__}"
        )
    out: dict[str, RedactStrategy] = {}
    for raw_path, raw_strategy in items:
        path = _normalize_path(raw_path)
        strategy = _strategy(raw_path, raw_strategy)
        if out.get(path) is not RedactStrategy.DESTROY:
            out[path] = strategy
    return out


def merge_redact_specs(a: Any, b: Any) -> dict[str, RedactStrategy]:
    """The union of two specs; ``destroy`` wins over ``commit`` for the same path."""
    merged = normalize_redact_spec(a)
    for path, strategy in normalize_redact_spec(b).items():
        if merged.get(path) is not RedactStrategy.DESTROY:
            merged[path] = strategy
    return merged


def _normalize_path(path: Any) -> str:
    if not isinstance(path, str):
        raise HesoConfigError(
            f"redaction path {path!r} is not a string", hint='write paths like "headers.auth"'
        )
    try:
        return fieldpath.render(fieldpath.parse(path))
    except ValueError as exc:
        raise HesoConfigError(f"invalid redaction path {path!r}: {exc}", key=path) from None


def _strategy(path: Any, strategy: Any) -> RedactStrategy:
    if isinstance(strategy, RedactStrategy):
        return strategy
    if isinstance(strategy, str):
        try:
            return RedactStrategy(strategy.strip().lower())
        except ValueError:
            pass
    raise HesoConfigError(
        f"unknown redaction strategy {strategy!r} for {path!r}",
        key=str(path),
        hint="use 'commit' or 'destroy'",
    )


# --------------------------------------------------------------------------- commitments


def commitment_of(value: Any, salt: bytes) -> str:
    """``"blake3:" + hex(BLAKE3-keyed(key=salt, JCS(to_json_value(value))))``."""
    return _commit(canonical_bytes(to_json_value(value, path="value")), salt)


def _commit(data: bytes, salt: bytes) -> str:
    if len(salt) != SALT_BYTES:
        raise HesoConfigError(f"a redaction salt must be {SALT_BYTES} bytes, not {len(salt)}")
    return COMMITMENT_PREFIX + blake3.blake3(data, key=salt).hexdigest()


def is_marker(value: Any) -> bool:
    """Whether ``value`` has exactly the shape of a commit or destroy marker."""
    if not isinstance(value, Mapping):
        return False
    kind = value.get(MARKER_KEY)
    if kind == "destroy":
        return len(value) == 1
    if kind == "commit":
        commitment = value.get("commitment")
        return (
            len(value) == 2
            and isinstance(commitment, str)
            and _COMMITMENT.match(commitment) is not None
        )
    return False


def verify_reveal(marker: Mapping[str, Any], value: Any, salt: bytes) -> bool:
    """Whether ``value`` with ``salt`` opens the commit ``marker``. Never raises."""
    if not is_marker(marker) or marker[MARKER_KEY] != "commit":
        return False
    if not isinstance(salt, (bytes, bytearray)) or len(salt) != SALT_BYTES:
        return False
    try:
        expected = commitment_of(value, bytes(salt))
    except CanonicalizationError:
        return False
    return hmac.compare_digest(expected, marker["commitment"])


# --------------------------------------------------------------------------- redact

_MISSING = fieldpath.MISSING


def redact(
    fields: Mapping[str, Any],
    spec: Mapping[str, RedactStrategy],
    *,
    salt_source: Callable[[int], bytes] = os.urandom,
) -> tuple[dict[str, Any], list[Commitment]]:
    """Replace each redacted path's value in ``fields`` (JSON values) by its marker.

    Returns new fields (``fields`` is not modified; untouched subtrees are shared) and the
    commitments made. Paths that do not resolve are skipped. Deeper paths are redacted first,
    so a committed parent commits to its children's markers; paths inside a destroyed one are
    skipped. With an empty ``spec`` this returns ``fields`` itself.
    """
    if not spec:
        return (fields if isinstance(fields, dict) else dict(fields)), []
    spec = normalize_redact_spec(spec)
    root: dict[str, Any] = dict(fields)
    copied = {id(root)}
    commitments: list[Commitment] = []
    for segments, path, strategy in _plan(spec):
        parent = _writable_parent(root, segments, copied)
        if parent is None:
            continue
        key = _locate(parent, segments[-1])
        if key is _MISSING:
            continue
        if strategy is RedactStrategy.DESTROY:
            parent[key] = {MARKER_KEY: "destroy"}
            continue
        salt = salt_source(SALT_BYTES)
        digest = _commit(canonical_bytes(parent[key]), salt)
        parent[key] = {MARKER_KEY: "commit", "commitment": digest}
        commitments.append(Commitment(path, digest, salt))
    return root, commitments


def _plan(
    spec: Mapping[str, RedactStrategy],
) -> list[tuple[tuple[fieldpath.Segment, ...], str, RedactStrategy]]:
    parsed = {path: fieldpath.parse(path) for path in spec}
    destroyed = [seg for path, seg in parsed.items() if spec[path] is RedactStrategy.DESTROY]
    plan = [
        (segments, path, spec[path])
        for path, segments in parsed.items()
        if not any(len(d) < len(segments) and segments[: len(d)] == d for d in destroyed)
    ]
    plan.sort(key=lambda item: (-len(item[0]), item[1]))
    return plan


def _locate(container: Any, segment: fieldpath.Segment) -> Any:
    """The key or index ``segment`` names in ``container`` (as :func:`fieldpath.get` reads)."""
    if isinstance(container, dict):
        key = segment if isinstance(segment, str) else str(segment)
        if key in container:
            return key
        return segment if segment in container else _MISSING
    if isinstance(container, list) and isinstance(segment, int) and segment < len(container):
        return segment
    return _MISSING


def _writable_parent(
    root: dict[str, Any], segments: tuple[fieldpath.Segment, ...], copied: set[int]
) -> Any:
    """The container holding the last segment, copying every container on the way once."""
    node: Any = root
    for segment in segments[:-1]:
        key = _locate(node, segment)
        if key is _MISSING:
            return None
        child = node[key]
        if id(child) not in copied:
            if isinstance(child, Mapping):
                child = dict(child)
            elif isinstance(child, (list, tuple)):
                child = list(child)
            else:
                return None
            node[key] = child
            copied.add(id(child))
        node = child
    return node


# --------------------------------------------------------------------------- the reveal store


class RevealStore:
    """Append-only salts of commitments, one JSON line each, in ``<path>/salts.jsonl``.

    ``path`` is the store's directory (``heso-local-data/reveal``), created with mode 0700;
    the file has mode 0600. Each :meth:`add` is one ``write`` of whole lines under the file's
    lock (:func:`heso.durable.locked_append`), so concurrent threads and processes never
    interleave lines; a line torn by a killed writer is ended first, so the new lines start
    fresh. With ``fsync`` (the default) a salt is on disk before ``add`` returns. The store
    never holds a cleartext value.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.file = self.path / REVEAL_FILE
        self.fsync = fsync

    def add(self, action_hash: str, commitments: Iterable[Commitment]) -> None:
        """Record the salts of ``commitments``, made for the receipt ``action_hash``."""
        lines = b"".join(
            canonical_bytes(
                {
                    "action_hash": action_hash,
                    "commitment": c.commitment,
                    "path": c.path,
                    "salt": c.salt.hex(),
                }
            )
            + b"\n"
            for c in commitments
        )
        if not lines:
            return
        self._ensure_dir()
        with durable.locked_append(self.file, sync=self.fsync, torn="newline") as salts:
            salts.write(lines)

    def lookup(self, action_hash: str, path: str | None = None) -> list[RevealEntry]:
        """The entries of ``action_hash`` (and of field ``path``, in any spelling), oldest
        first. Lines that are not well-formed entries (a torn last line) are skipped."""
        want_path = _normalize_path(path) if path is not None else None
        try:
            data = self.file.read_bytes()
        except FileNotFoundError:
            return []
        found = []
        for line in data.split(b"\n")[:-1]:
            entry = _parse_entry(line)
            if (
                entry is not None
                and entry.action_hash == action_hash
                and (want_path is None or entry.path == want_path)
            ):
                found.append(entry)
        return found

    def _ensure_dir(self) -> None:
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if stat.S_IMODE(self.path.stat().st_mode) != 0o700:
            os.chmod(self.path, 0o700)


def _parse_entry(line: bytes) -> RevealEntry | None:
    try:
        doc = loads_strict(line)
        salt = bytes.fromhex(doc["salt"])
        entry = RevealEntry(doc["action_hash"], doc["path"], doc["commitment"], salt)
    except (CanonicalizationError, KeyError, TypeError, ValueError):
        return None
    if not all(isinstance(x, str) for x in (entry.action_hash, entry.path, entry.commitment)):
        return None
    return entry if len(salt) == SALT_BYTES else None
