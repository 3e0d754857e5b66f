"""Trust inputs: the operator keys and approvers a verifier accepts, read from a project.

``heso verify``, ``heso reveal`` and ``heso console`` read them here and verify with them
through the one verifier (:func:`heso.receipt.verify_receipt`,
:func:`heso.ledger.verify.verify_ledger`).
The offline page reads a pasted ``heso.toml`` by the same rules (``heso-verify.js``:
``trustFromToml``), and the console hands its browser :meth:`Trust.to_dict`.

* **Operator keys**: ``--trust`` keys when given, else ``[heso] operator_keys``; with neither,
  nothing is pinned and a store vouches for itself (its integrity, not its origin).
* **Approvers**: the ``[approvers.<group>]`` tables of ``heso.toml`` (or of the file
  ``--approvers`` names). A co-signature counts only by a registered key, labelled with its
  owner's name, from a member of the group the receipt names; that group's registered
  threshold is the least quorum a receipt may claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heso import receipt as rc
from heso.approvals.registry import Registry, load_registry
from heso.errors import HesoConfigError
from heso.keys import PublicKey
from heso.ledger.verify import verify_ledger
from heso.ledger.watch import TrustInputs
from heso.project import POLICY_FILE
from heso.toml_source import TomlSource
from heso.verdict import Verdict

if TYPE_CHECKING:
    from heso.ledger.store import Checkable

MAX_DEPTH = 64
"""The deepest nesting of tables and arrays a ``heso.toml`` read for trust inputs may have: a
fixed bound, where the parser's own (Python's recursion limit) depends on the call stack, so the
offline page (``trustFromToml``) refuses exactly the same files."""
PINNED_BY_FLAG = "--trust"
PINNED_BY_FILE = "heso.toml"
UNPINNED = "unpinned"


@dataclass(frozen=True)
class Trust:
    """What a verifier trusts: pinned operator keys (``None``: unpinned) and the approvers."""

    operators: frozenset[PublicKey] | None = None
    pinned_by: str = UNPINNED
    registry: Registry = field(default_factory=Registry)

    @cached_property
    def _approvers(self) -> dict[str, Any]:
        return {
            "approver_keys": self.registry.approver_keys(),
            "approver_groups": self.registry.groups,
        }

    def _noted(self, verdict: Verdict) -> Verdict:
        verdict.details["operator_pinned_by"] = self.pinned_by
        return verdict

    def verify_receipt(self, receipt: Any) -> Verdict:
        """One parsed receipt."""
        return self._noted(
            rc.verify_receipt(receipt, trusted_operators=self.operators, **self._approvers)
        )

    def verify_receipt_bytes(self, data: str | bytes) -> Verdict:
        """One receipt's JSON text."""
        return self._noted(
            rc.verify_receipt_bytes(data, trusted_operators=self.operators, **self._approvers)
        )

    def verify_chain(
        self, ledger: Checkable, *, workers: int | None = None, require_sealed: bool = False
    ) -> Verdict:
        """A whole ledger (see :func:`heso.ledger.verify.verify_ledger`)."""
        return self._noted(
            verify_ledger(
                ledger,
                trusted_operators=self.operators,
                workers=workers,
                require_sealed=require_sealed,
                **self._approvers,
            )
        )

    def chain_inputs(self) -> TrustInputs:
        """These trust inputs for a :class:`~heso.ledger.watch.ChainWatch`."""
        return TrustInputs(self.operators, **self._approvers)

    def noted(self, verdict: Verdict) -> Verdict:
        """``verdict`` with where the operator keys came from (``operator_pinned_by``)."""
        return self._noted(verdict)

    def to_dict(self) -> dict[str, Any]:
        """JSON for a browser that verifies with the same inputs (``HesoVerify.trustOptions``)."""
        return {
            "operator_keys": None
            if self.operators is None
            else sorted(k.to_str() for k in self.operators),
            "pinned_by": self.pinned_by,
            "approvers": {
                name: {
                    "threshold": g.threshold,
                    "members": {m: k.to_str() for m, k in g.members.items()},
                }
                for name, g in self.registry.groups.items()
            },
        }


def pinned_operator_keys(source: TomlSource) -> frozenset[PublicKey] | None:
    """The operator keys ``[heso] operator_keys`` pins, or ``None`` when it pins none."""
    table = source.data.get("heso", {})
    if not isinstance(table, dict) or "operator_keys" not in table:
        return None
    keys = table["operator_keys"]
    where = ("heso", "operator_keys")
    if not isinstance(keys, list):
        raise source.error("[heso].operator_keys must be an array of keys", where, value=True)
    pinned = set()
    for i, text in enumerate(keys):
        try:
            pinned.add(PublicKey.from_str(text))
        except (ValueError, TypeError) as exc:
            raise source.error(f"[heso].operator_keys[{i}]: {exc}", where, value=True) from None
    return frozenset(pinned) or None


def load_trust(
    source: TomlSource | None,
    *,
    trust: Sequence[str] | None = None,
    approvers: TomlSource | None = None,
) -> Trust:
    """The trust inputs of a parsed ``heso.toml`` (``None`` outside a project).

    ``trust`` keys (``--trust``) replace its ``[heso] operator_keys``; the ``[approvers]``
    tables of ``approvers`` (``--approvers``) replace its own.
    """
    for parsed in (source, approvers):
        if parsed is not None and _too_deep(parsed.data):
            raise HesoConfigError(
                f"tables and arrays nested more than {MAX_DEPTH} levels deep", path=parsed.path
            )
    operators, pinned_by = None, UNPINNED
    if trust:
        try:
            operators = frozenset(PublicKey.from_str(t) for t in trust)
        except ValueError as exc:
            raise HesoConfigError(f"--trust: {exc}") from exc
        pinned_by = PINNED_BY_FLAG
    elif source is not None:
        operators = pinned_operator_keys(source)
        pinned_by = PINNED_BY_FILE if operators else UNPINNED
    table = approvers if approvers is not None else source
    registry = load_registry(table) if table is not None else Registry()
    return Trust(operators, pinned_by, registry)


def _too_deep(data: dict[str, Any]) -> bool:
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((v, depth + 1) for v in children if isinstance(v, (dict, list)))
    return False


def project_trust(root: str | Path) -> Trust:
    """The trust inputs of the project at ``root`` (reads its ``heso.toml``)."""
    return load_trust(TomlSource.read(Path(root) / POLICY_FILE))
