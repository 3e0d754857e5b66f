"""The approver registry: ``[approvers.<group>]`` tables of ``heso.toml``.

::

    [approvers.oncall]
    members = { alice = "ed25519:…", bob = "ed25519:…" }
    threshold = 1              # distinct members who must approve (k of n); default 1
    escalate_to = "managers"   # optional: the group added when on_timeout = "escalate" fires

A name means one key and a key one name across all groups. Every mistake is a
``HesoConfigError`` naming the file, line and key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from heso.errors import HesoConfigError
from heso.keys import PublicKey
from heso.project import POLICY_FILE
from heso.toml_source import TomlSource, did_you_mean, type_name

TABLE = "approvers"
GROUP_KEYS = ("members", "threshold", "escalate_to")
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Group:
    """One approver group: who is in it and how many of them must approve."""

    name: str
    members: Mapping[str, PublicKey]
    threshold: int = 1
    escalate_to: str | None = None

    @property
    def keys(self) -> frozenset[PublicKey]:
        """The members' public keys."""
        return frozenset(self.members.values())

    def member_named(self, name: str) -> PublicKey | None:
        """The key registered for ``name`` in this group, if any."""
        return self.members.get(name)


@dataclass(frozen=True)
class Registry:
    """Every registered approver group of a project."""

    groups: Mapping[str, Group] = field(default_factory=dict)
    path: str = POLICY_FILE

    def group(self, name: str) -> Group:
        """The group ``name``; ``HesoConfigError`` if ``heso.toml`` does not define it."""
        found = self.groups.get(name)
        if found is None:
            known = ", ".join(sorted(self.groups)) or "none"
            raise HesoConfigError(
                f"approver group {name!r} is not defined",
                path=self.path,
                key=f"{TABLE}.{name}",
                hint=f'add [{TABLE}.{name}] with members = {{ <name> = "ed25519:…" }} '
                f"(defined groups: {known}); `heso approver new <name>` prints the key",
            )
        return found

    def approver_keys(self) -> dict[PublicKey, str]:
        """Every registered key → its approver name (for ``verify_receipt``)."""
        return {key: name for group in self.groups.values() for name, key in group.members.items()}

    def eligible(self, groups: Iterable[str], approver: str) -> list[Group]:
        """The defined groups among ``groups`` that list ``approver``, in that order."""
        return [
            self.groups[g]
            for g in groups
            if g in self.groups and approver in self.groups[g].members
        ]


def load_registry(source: TomlSource) -> Registry:
    """Validate and read the ``[approvers]`` table of a parsed ``heso.toml``."""
    raw = source.data.get(TABLE, {})
    if not isinstance(raw, dict):
        raise source.error(
            f"[{TABLE}] must be a table of groups, not {type_name(raw)}",
            (TABLE,),
            hint=f"write [{TABLE}.<group>] tables",
        )
    groups: dict[str, Group] = {}
    key_owner: dict[PublicKey, str] = {}
    name_key: dict[str, PublicKey] = {}
    for gname, table in raw.items():
        where = (TABLE, gname)
        if not NAME.fullmatch(gname):
            raise source.error(
                f"invalid approver group name {gname!r}",
                where,
                hint="use letters, digits, '_', '.' or '-' (at most 64)",
            )
        if not isinstance(table, dict):
            raise source.error(
                f"[{TABLE}.{gname}] must be a table, not {type_name(table)}", where, value=True
            )
        for key in table:
            if key not in GROUP_KEYS:
                guess = did_you_mean(key, GROUP_KEYS)
                raise source.error(
                    f"unknown key {key!r} in [{TABLE}.{gname}]",
                    (*where, key),
                    hint=f"did you mean {guess!r}?" if guess else f"known: {', '.join(GROUP_KEYS)}",
                )
        members = _members(source, gname, table, key_owner, name_key)
        threshold = table.get("threshold", 1)
        if not isinstance(threshold, int) or isinstance(threshold, bool):
            raise source.error(
                f"[{TABLE}.{gname}].threshold must be an integer, not {type_name(threshold)}",
                (*where, "threshold"),
                value=True,
            )
        if not 1 <= threshold <= len(members):
            raise source.error(
                f"[{TABLE}.{gname}].threshold is {threshold} but the group has "
                f"{len(members)} member(s)",
                (*where, "threshold"),
                value=True,
                hint="k-of-n needs 1 <= threshold <= the number of members",
            )
        escalate_to = table.get("escalate_to")
        if escalate_to is not None and not isinstance(escalate_to, str):
            raise source.error(
                f"[{TABLE}.{gname}].escalate_to must be a group name, not {type_name(escalate_to)}",
                (*where, "escalate_to"),
                value=True,
            )
        groups[gname] = Group(gname, MappingProxyType(members), threshold, escalate_to)
    for gname, group in groups.items():
        target = group.escalate_to
        if target is not None and (target == gname or target not in groups):
            problem = "itself" if target == gname else f"undefined group {target!r}"
            raise source.error(
                f"[{TABLE}.{gname}].escalate_to names {problem}",
                (TABLE, gname, "escalate_to"),
                value=True,
                hint=f"defined groups: {', '.join(sorted(groups))}",
            )
    return Registry(MappingProxyType(groups), source.path)


def _members(
    source: TomlSource,
    gname: str,
    table: dict[str, object],
    key_owner: dict[PublicKey, str],
    name_key: dict[str, PublicKey],
) -> dict[str, PublicKey]:
    where = (TABLE, gname, "members")
    raw = table.get("members")
    if raw is None:
        raise source.error(
            f"[{TABLE}.{gname}] has no members",
            (TABLE, gname),
            hint='add members = { alice = "ed25519:…" } (`heso approver new alice` prints it)',
        )
    if not isinstance(raw, dict) or not raw:
        raise source.error(
            f'[{TABLE}.{gname}].members must be a non-empty table of name = "ed25519:…"',
            where,
            value=True,
        )
    members: dict[str, PublicKey] = {}
    for name, text in raw.items():
        at = (*where, name)
        if not NAME.fullmatch(name):
            raise source.error(
                f"invalid approver name {name!r}",
                at,
                hint="use letters, digits, '_', '.' or '-' (at most 64)",
            )
        if not isinstance(text, str):
            raise source.error(
                f"approver {name!r} must map to a public key string, not {type_name(text)}",
                at,
                value=True,
            )
        try:
            key = PublicKey.from_str(text)
        except ValueError as exc:
            raise source.error(f"approver {name!r}: {exc}", at, value=True) from None
        if key_owner.get(key, name) != name:
            raise source.error(
                f"the key of {name!r} is already registered as {key_owner[key]!r}",
                at,
                value=True,
                hint="one key is one approver: each person needs their own key",
            )
        if name_key.get(name, key) != key:
            raise source.error(
                f"approver {name!r} has a different key in another group",
                at,
                value=True,
                hint="a name means one key in every group",
            )
        key_owner[key], name_key[name] = name, key
        members[name] = key
    return members


def load_project_registry(root: str | Path) -> Registry:
    """The registry of the project at ``root`` (reads its ``heso.toml``)."""
    return load_registry(TomlSource.read(Path(root) / POLICY_FILE))
