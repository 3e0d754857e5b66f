"""heso in one file: gate tools, redact a secret, scope a step, and prove what happened.

Run it anywhere, offline::

    python examples/quickstart.py

Inside a heso project (a ``heso.toml`` in the CWD or above) it uses that project; elsewhere
it scaffolds a throwaway one in a temporary directory with the starter policy (``heso init``
writes the same): internal email is allowed, external email and every delete need a human.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import heso
from heso.ledger import verify_chain
from heso.project import find_root, init_project


@heso.tool
def search_docs(query: str, limit: int = 5) -> list[str]:
    """Read-only: allowed by the starter policy."""
    return [f"doc about {query}"][:limit]


@heso.tool(redact=["api_key"])
def send_email(to: str, subject: str, api_key: str) -> str:
    """The receipt keeps a commitment to ``api_key``, never the key itself."""
    return f"sent {subject!r} to {to}"


@heso.destructive
def delete_customer(customer_id: str) -> None:
    """Rides the delete floor: a human must approve, whatever the policy says."""
    raise AssertionError("never runs without an approval")


def run() -> None:
    with heso.step(workflow="support", account="acme"):
        print("search_docs ->", search_docs("refund policy"))
        print("send_email  ->", send_email("ann@example.com", "Your refund", api_key="sk-demo"))
        for attempt in (
            lambda: send_email("bob@elsewhere.test", "Hi", api_key="sk-demo"),
            lambda: delete_customer("cus_42"),
        ):
            try:
                attempt()
            except heso.SuspendedError as refusal:
                print(f"suspended   -> rule {refusal.rule_id}, receipt {refusal.action_hash[:12]}")


def main() -> None:
    root = find_root()
    throwaway = root is None
    with tempfile.TemporaryDirectory(prefix="heso-quickstart-") as tmp:
        if root is None:
            os.environ.setdefault("HESO_KDF_PROFILE", "interactive")  # throwaway key: fast KDF
            root = Path(tmp) / "project"
            init_project(root)
            print(f"scaffolded a demo project in {root}")
        config = heso.init(project_root=root)
        try:
            run()
        finally:
            heso.shutdown()  # seals the chain head
        print("chain       ->", verify_chain(config.data_dir))
        if not throwaway:
            print(f"inspect it  -> heso verify --chain --project {root}")


if __name__ == "__main__":
    main()
