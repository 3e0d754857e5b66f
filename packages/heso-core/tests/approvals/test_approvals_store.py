"""The approvals store contract (:class:`heso.approvals.store.ApprovalStore`): what every store
keeps for sessions, whatever keeps it. Each test runs against every store in ``STORES``; a new
store (PostgreSQL, issue 18) joins by adding its opener."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from heso.approvals.file_store import FileApprovalStore
from heso.approvals.registry import Registry
from heso.approvals.store import GENESIS, ApprovalStore, encode_line
from heso.errors import ApprovalError, LifecycleError


def _file_store(request: pytest.FixtureRequest, tmp_path: Path) -> ApprovalStore:
    return FileApprovalStore(tmp_path / "heso-local-data")


def _postgres_store(request: pytest.FixtureRequest, tmp_path: Path) -> ApprovalStore:
    from heso.approvals.postgres_store import PostgresApprovalStore

    url = request.getfixturevalue("postgres_store_url")
    return PostgresApprovalStore(url, project_root=tmp_path)


STORES: dict[str, Callable[[pytest.FixtureRequest, Path], ApprovalStore]] = {
    "file": _file_store,
    "postgresql": _postgres_store,
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ApprovalStore:
    return STORES[request.param](request, tmp_path)


def _opening(session: str, action_hash: str) -> dict[str, Any]:
    return {
        "record": {"kind": "suspended", "session": session, "action_hash": action_hash},
        "signer": {"key_id": "operator"},
    }


def test_a_session_is_changed_only_under_its_lock(store: ApprovalStore) -> None:
    with pytest.raises(RuntimeError, match="locked"):
        store.append("s1", _opening("s1", "a" * 64))
    with pytest.raises(RuntimeError, match="locked"):
        store.create_session("s1")
    with pytest.raises(ApprovalError, match="session id"):
        store.exists("")


def test_lifecycles_are_hash_linked_and_read_back(store: ApprovalStore) -> None:
    assert not store.exists("s1") and store.lines("s1") == []
    with store.locked("s1"), store.locked("s1"):  # re-entrant within a thread
        secret = store.create_session("s1")
        assert store.create_session("s1") == secret == store.binding_secret("s1")
        first = store.append("s1", _opening("s1", "a" * 64))
        second = store.append("s1", {"record": {"kind": "note"}, "signer": {"key_id": "x"}})
    assert len(secret) == 32 and store.exists("s1")
    assert [line.seq for line in store.lines("s1")] == [0, 1]
    assert store.lines("s1") == [first, second]
    assert first.hash != second.hash
    assert encode_line(0, GENESIS, first.part) != encode_line(1, first.hash, second.part)
    with pytest.raises(LifecycleError):
        store.binding_secret("never-created")


def test_the_fire_claim_is_won_exactly_once(store: ApprovalStore) -> None:
    with store.locked("s1"):
        store.append("s1", _opening("s1", "a" * 64))
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def claim(i: int) -> None:
        barrier.wait()
        wins.append(store.claim_fire("s1", {"who": i}))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True] and store.fire_claimed("s1")
    assert not store.fire_claimed("s2")


def test_actions_map_to_sessions_and_prefixes_resolve(store: ApprovalStore) -> None:
    a, b = "ab" + "0" * 62, "ac" + "1" * 62
    for session, h in (("s1", a), ("s2", b)):
        with store.locked(session):
            store.append(session, _opening(session, h))
        assert store.index(h, session) == session
    assert store.index(a, "s3") == "s1"  # the first mapping wins
    assert store.session_of(a) == "s1" and store.session_of("ab") is None
    assert sorted(store.sessions()) == ["s1", "s2"]
    assert store.all_hashes() == [(a, "s1"), (b, "s2")]
    assert store.resolve("ab") == (a, "s1")
    with pytest.raises(ApprovalError, match="matches 2 actions"):
        store.resolve("a")
    with pytest.raises(ApprovalError, match="no suspended action"):
        store.resolve("ff")
    with pytest.raises(ApprovalError, match="not an action_hash prefix"):
        store.resolve("zz")


def test_the_pending_list_is_folded_from_signed_records(store: ApprovalStore) -> None:
    """Records that are not signed by anyone count for nothing: nothing is pending."""
    with store.locked("s1"):
        store.append("s1", _opening("s1", "a" * 64))
    assert store.open_hashes(Registry()) == []


def test_a_waiter_learns_of_a_new_record_promptly(store: ApprovalStore) -> None:
    import time

    with store.locked("s1"):
        store.append("s1", _opening("s1", "a" * 64))
    assert store.wait_for_change("s1", 1, 0.2) is False  # nothing new: waits out its timeout

    def decide() -> None:
        time.sleep(0.3)
        with store.locked("s1"):
            store.append("s1", {"record": {"kind": "note"}, "signer": {"key_id": "x"}})

    t = threading.Thread(target=decide)
    started = time.monotonic()
    t.start()
    assert store.wait_for_change("s1", 1, 30.0) is True
    assert time.monotonic() - started < 5.0
    t.join()
    assert len(store.lines("s1")) == 2
