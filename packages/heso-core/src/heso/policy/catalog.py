"""The shipped action catalog: ``"domain.action_id"`` → a coarse verb and a risk lane.

Declaring a catalog action (``Action(domain="payment", action_id="authorize_payment")``) can
only raise the action's lane to the entry's lane, never lower it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from heso.action import Verb
from heso.policy.lanes import Lane
from heso.toml_source import close_matches


@dataclass(frozen=True)
class CatalogEntry:
    """One catalog action."""

    domain: str
    action_id: str
    verb: Verb
    lane: Lane

    @property
    def id(self) -> str:
        """``"domain.action_id"``."""
        return f"{self.domain}.{self.action_id}"


_V = Verb
_L = Lane
_ENTRIES: tuple[tuple[str, Verb, Lane], ...] = (
    # money
    ("payment.authorize_payment", _V.PAYMENT, _L.PAYMENT),
    ("payment.capture_payment", _V.PAYMENT, _L.PAYMENT),
    ("payment.refund_payment", _V.PAYMENT, _L.PAYMENT),
    ("payment.create_payout", _V.PAYMENT, _L.PAYMENT),
    ("payment.transfer_funds", _V.PAYMENT, _L.PAYMENT),
    ("payment.create_subscription", _V.PAYMENT, _L.PAYMENT),
    ("payment.cancel_subscription", _V.TOOL_CALL, _L.WRITE),
    ("payment.issue_invoice", _V.TOOL_CALL, _L.WRITE),
    # data stores
    ("data.read_records", _V.TOOL_CALL, _L.READ),
    ("data.query_database", _V.TOOL_CALL, _L.READ),
    ("data.update_records", _V.TOOL_CALL, _L.WRITE),
    ("data.run_migration", _V.TOOL_CALL, _L.WRITE),
    ("data.export_records", _V.DATA_EXPORT, _L.EXPORT),
    ("data.share_dataset", _V.DATA_EXPORT, _L.EXPORT),
    ("data.delete_records", _V.DELETE, _L.DELETE),
    # messaging (data leaving the organisation is an export)
    ("messaging.send_email", _V.TOOL_CALL, _L.EXPORT),
    ("messaging.send_sms", _V.TOOL_CALL, _L.EXPORT),
    ("messaging.post_message", _V.TOOL_CALL, _L.WRITE),
    ("messaging.send_notification", _V.TOOL_CALL, _L.WRITE),
    ("messaging.delete_message", _V.DELETE, _L.DELETE),
    # files
    ("files.read_file", _V.TOOL_CALL, _L.READ),
    ("files.write_file", _V.TOOL_CALL, _L.WRITE),
    ("files.upload_file", _V.TOOL_CALL, _L.EXPORT),
    ("files.share_file", _V.DATA_EXPORT, _L.EXPORT),
    ("files.delete_file", _V.DELETE, _L.DELETE),
    # infrastructure
    ("infra.create_resource", _V.TOOL_CALL, _L.WRITE),
    ("infra.update_config", _V.TOOL_CALL, _L.WRITE),
    ("infra.deploy_release", _V.TOOL_CALL, _L.WRITE),
    ("infra.scale_service", _V.TOOL_CALL, _L.WRITE),
    ("infra.restart_service", _V.TOOL_CALL, _L.WRITE),
    ("infra.rotate_secret", _V.TOOL_CALL, _L.WRITE),
    ("infra.delete_resource", _V.DELETE, _L.DELETE),
    ("infra.terminate_instance", _V.DELETE, _L.DELETE),
    # identity and access
    ("identity.create_user", _V.TOOL_CALL, _L.WRITE),
    ("identity.grant_role", _V.TOOL_CALL, _L.WRITE),
    ("identity.revoke_access", _V.TOOL_CALL, _L.WRITE),
    ("identity.delete_user", _V.DELETE, _L.DELETE),
    # source code
    ("code.run_command", _V.TOOL_CALL, _L.WRITE),
    ("code.push_commit", _V.TOOL_CALL, _L.WRITE),
    ("code.merge_pull_request", _V.TOOL_CALL, _L.WRITE),
    ("code.delete_branch", _V.DELETE, _L.DELETE),
    # web
    ("web.search", _V.HTTP_REQUEST, _L.READ),
    ("web.fetch_url", _V.HTTP_REQUEST, _L.WRITE),
    ("web.submit_form", _V.HTTP_REQUEST, _L.WRITE),
    # models
    ("llm.chat_completion", _V.LLM_CALL, _L.READ),
    ("llm.create_embedding", _V.LLM_CALL, _L.READ),
    # customer records
    ("crm.update_contact", _V.TOOL_CALL, _L.WRITE),
    ("crm.export_contacts", _V.DATA_EXPORT, _L.EXPORT),
    ("crm.delete_contact", _V.DELETE, _L.DELETE),
    # calendars
    ("calendar.create_event", _V.TOOL_CALL, _L.WRITE),
    ("calendar.cancel_event", _V.TOOL_CALL, _L.WRITE),
)

CATALOG: Mapping[str, CatalogEntry] = MappingProxyType(
    {
        full: CatalogEntry(full.split(".", 1)[0], full.split(".", 1)[1], verb, lane)
        for full, verb, lane in _ENTRIES
    }
)
"""Every shipped catalog action by ``"domain.action_id"``."""


def catalog_id(domain: str | None, action_id: str | None) -> str | None:
    """The full id an action declares, or ``None``: ``domain`` + ``action_id``, or an
    ``action_id`` that is already ``"domain.action_id"``."""
    if not action_id:
        return domain or None
    if domain is None or action_id.startswith(domain + "."):
        return action_id
    return f"{domain}.{action_id}"


def lookup_catalog(full_id: str) -> CatalogEntry:
    """The entry for ``"domain.action_id"``; an unknown id is a ``ValueError`` naming the
    nearest known ids."""
    entry = CATALOG.get(full_id) if isinstance(full_id, str) else None
    if entry is not None:
        return entry
    raise ValueError(_unknown_message(full_id))


def _unknown_message(full_id: object) -> str:
    text = str(full_id)
    near = close_matches(text, CATALOG, n=3, cutoff=0.5)
    if not near:
        domain = text.split(".", 1)[0]
        near = [k for k in CATALOG if k.startswith(domain + ".")][:3]
    if not near:
        domains = sorted({e.domain for e in CATALOG.values()})
        return (
            f"unknown catalog action {text!r}: ids are 'domain.action_id' "
            f"with domain one of {', '.join(domains)}"
        )
    return f"unknown catalog action {text!r}; nearest known: {', '.join(near)}"


__all__ = ["CATALOG", "CatalogEntry", "catalog_id", "lookup_catalog"]
