"""``[heso.transparency]`` in ``heso.toml``: the log's origin, when checkpoints are issued, and
the witnesses that must cosign them::

    [heso.transparency]
    origin = "example.com/agents"      # the checkpoint origin line (default: heso/<key hash>)
    checkpoint_every = 1024            # issue a checkpoint every N entries …
    checkpoint_interval = 60           # … or T seconds after the last one (0: never by time)
    threshold = 1                      # valid cosignatures `--checkpoint` requires

    [[heso.transparency.witness]]
    name = "auditor"
    vkey = "auditor.example/witness+1a2b3c4d+BB…"
    url = "http://127.0.0.1:7380"

Parsing names the file, line and fix on bad input (:meth:`TomlSource.error`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from heso.errors import TransparencyError
from heso.transparency.checkpoint import Checkpoint, default_origin
from heso.transparency.cosignature import CosignatureVerifier
from heso.transparency.merkle import EMPTY_ROOT
from heso.transparency.note import Ed25519Verifier
from heso.transparency.vkey import parse_vkey

if TYPE_CHECKING:
    from heso.keys import PublicKey
    from heso.toml_source import TomlSource

__all__ = ["TABLE", "TransparencySettings", "WitnessEntry", "log_verifier", "parse_settings"]

TABLE: Final = ("heso", "transparency")
_KEYS: Final = ("origin", "checkpoint_every", "checkpoint_interval", "threshold", "witness")
_WITNESS_KEYS: Final = ("name", "vkey", "url")


@dataclass(frozen=True)
class WitnessEntry:
    """One witness heso asks for cosignatures: a label, its cosignature key and its URL."""

    name: str
    key: CosignatureVerifier
    url: str


@dataclass(frozen=True)
class TransparencySettings:
    """When a log issues checkpoints, under which origin, and who cosigns them."""

    origin: str | None = None
    """The origin line; ``None``: :func:`~heso.transparency.checkpoint.default_origin`."""
    checkpoint_every: int = 1024
    checkpoint_interval: float = 60.0
    witnesses: tuple[WitnessEntry, ...] = ()
    threshold: int = 0

    def origin_for(self, operator: PublicKey) -> str:
        """The origin of the log whose operator key is ``operator``."""
        return self.origin or default_origin(operator)

    @property
    def witness_keys(self) -> tuple[CosignatureVerifier, ...]:
        return tuple(w.key for w in self.witnesses)


def log_verifier(origin: str, operator: PublicKey) -> Ed25519Verifier:
    """The note verifier of a heso log: the operator key under the origin as key name."""
    return Ed25519Verifier(origin, operator)


def parse_settings(source: TomlSource | None) -> TransparencySettings:
    """The ``[heso.transparency]`` table of ``source`` (defaults when absent)."""
    if source is None:
        return TransparencySettings()
    heso = source.data.get(TABLE[0])
    table = heso.get(TABLE[1]) if isinstance(heso, dict) else None
    if table is None:
        return TransparencySettings()
    if not isinstance(table, dict):
        raise source.error("[heso.transparency] must be a table", TABLE)
    for key in table:
        if key not in _KEYS:
            raise source.error(
                f"unknown setting {key!r} in [heso.transparency]",
                (*TABLE, key),
                hint=f"known: {', '.join(_KEYS)}",
            )

    def number(key: str, default: float, *, integer: bool) -> Any:
        value = table.get(key, default)
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
            what = "a non-negative integer" if integer else "a non-negative number of seconds"
            raise source.error(
                f"[heso.transparency].{key} must be {what}", (*TABLE, key), value=True
            )
        return value

    origin = table.get("origin")
    if origin is not None:
        try:
            if not isinstance(origin, str):
                raise TransparencyError("the origin must be a string")
            Checkpoint(origin, 0, EMPTY_ROOT)
            if " " in origin or "+" in origin:
                raise TransparencyError("the origin is also the log's key name: no spaces or '+'")
        except TransparencyError as exc:
            raise source.error(
                f"[heso.transparency].origin: {exc}", (*TABLE, "origin"), value=True
            ) from None
    every = number("checkpoint_every", 1024, integer=True)
    if every == 0:
        raise source.error(
            "[heso.transparency].checkpoint_every must be at least 1",
            (*TABLE, "checkpoint_every"),
            value=True,
        )
    interval = float(number("checkpoint_interval", 60.0, integer=False))
    raw = table.get("witness", [])
    if not isinstance(raw, list):
        raise source.error(
            "list witnesses as [[heso.transparency.witness]] tables", (*TABLE, "witness")
        )
    witnesses: list[WitnessEntry] = []
    for i, entry in enumerate(raw):
        where = (*TABLE, "witness", i)
        if not isinstance(entry, dict):
            raise source.error("each [[heso.transparency.witness]] is a table", where)
        for key in entry:
            if key not in _WITNESS_KEYS:
                raise source.error(
                    f"unknown witness setting {key!r}", (*where, key), hint="known: name, vkey, url"
                )
        for key in _WITNESS_KEYS:
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise source.error(f"a witness needs {key} (a non-empty string)", (*where, key))
        try:
            key = parse_vkey(entry["vkey"])
        except TransparencyError as exc:
            raise source.error(str(exc), (*where, "vkey"), value=True) from None
        if not isinstance(key, CosignatureVerifier):
            raise source.error(
                "a witness vkey is a cosignature key (type 0x04), not a log key",
                (*where, "vkey"),
                value=True,
            )
        if not entry["url"].startswith(("http://", "https://")):
            raise source.error(
                "a witness url is http(s)://host[:port][/prefix]", (*where, "url"), value=True
            )
        witnesses.append(WitnessEntry(entry["name"], key, entry["url"]))
    default_threshold = 1 if witnesses else 0
    threshold = number("threshold", default_threshold, integer=True)
    if threshold > len(witnesses):
        raise source.error(
            f"[heso.transparency].threshold is {threshold} but only {len(witnesses)} "
            "witness(es) are listed",
            (*TABLE, "threshold"),
            value=True,
        )
    return TransparencySettings(origin, every, interval, tuple(witnesses), threshold)
