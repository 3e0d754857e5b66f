"""What a ``@heso.gated`` resume is bound to: exactly the approved verb, tool, arguments and
``tool_version``.

The lifecycle stores a BLAKE3 digest of them keyed with the session's secret (``session.json``),
so a resumed call with other arguments is refused without the log holding a plain digest. A
``destroy``-redacted argument is left out of that digest (replaced by its marker): the secret
sits beside it on disk, and a digest over the value would confirm guesses of it (a 4-digit PIN
in milliseconds). Destroyed values are bound instead by a digest kept only in this process's
memory, under a key that never leaves it, so only the process that suspended such a call can
resume it; any other fails closed (:class:`~heso.errors.ApprovalError`).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import blake3

from heso.canonical import canonical_bytes, to_json_value
from heso.redaction import MARKER_KEY, is_marker

_KEY = secrets.token_bytes(32)
"""Keys the in-memory digests of destroyed values; never written anywhere."""
_held: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Binding:
    """A call as the session binds it."""

    digest: str
    """The keyed digest stored in the lifecycle (destroyed values masked)."""
    destroyed: str | None
    """The in-memory digest of the destroyed values; ``None`` when the call has none."""


def bind(
    secret: bytes,
    identity: Mapping[str, Any],
    fields: Mapping[str, Any],
    recorded: Any,
) -> Binding:
    """``fields`` of a call (``identity``: verb, tool_name, tool_version) bound under the
    session ``secret``; ``recorded`` is the suspended receipt's ``fields``, which say what was
    destroyed."""
    values = to_json_value(dict(fields), path="fields")
    destroyed: list[list[Any]] = []
    masked = _mask(values, recorded, [], destroyed)
    digest = blake3.blake3(canonical_bytes({**identity, "fields": masked}), key=secret).hexdigest()
    held = blake3.blake3(canonical_bytes(destroyed), key=_KEY).hexdigest() if destroyed else None
    return Binding(digest, held)


def remember(data_dir: Any, session: str, binding: Binding) -> None:
    """Keep ``binding``'s destroyed values' digest for a resume in this process."""
    if binding.destroyed is not None:
        with _lock:
            _held[(str(data_dir), session)] = binding.destroyed


def remembered(data_dir: Any, session: str) -> str | None:
    """The digest :func:`remember` kept for ``session``, if this process suspended it."""
    with _lock:
        return _held.get((str(data_dir), session))


def forget(data_dir: Any, session: str) -> None:
    with _lock:
        _held.pop((str(data_dir), session), None)


def _mask(value: Any, recorded: Any, path: list[Any], destroyed: list[list[Any]]) -> Any:
    """``value`` with each part the receipt destroyed replaced by its marker (collected, with
    its path, into ``destroyed``)."""
    if is_marker(recorded):
        if recorded[MARKER_KEY] == "destroy":
            destroyed.append([path, value])
            return dict(recorded)
        return value
    if isinstance(recorded, Mapping) and isinstance(value, Mapping):
        return {
            k: _mask(v, recorded[k], [*path, k], destroyed) if k in recorded else v
            for k, v in value.items()
        }
    if isinstance(recorded, list) and isinstance(value, list) and len(recorded) == len(value):
        pairs = enumerate(zip(value, recorded, strict=True))
        return [_mask(v, r, [*path, i], destroyed) for i, (v, r) in pairs]
    if has_destroyed(recorded):  # shapes differ: keep no trace of what may be destroyed here
        destroyed.append([path, value])
        return {MARKER_KEY: "destroy"}
    return value


def has_destroyed(node: Any) -> bool:
    """Whether recorded ``fields`` hold a ``destroy`` marker anywhere."""
    if is_marker(node):
        return bool(node[MARKER_KEY] == "destroy")
    if isinstance(node, Mapping):
        return any(has_destroyed(v) for v in node.values())
    if isinstance(node, list):
        return any(has_destroyed(v) for v in node)
    return False
