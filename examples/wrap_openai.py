"""Gate every model call of an OpenAI client with ``heso.wrap``, offline.

    python examples/wrap_openai.py      # needs openai and heso-testing installed

The real ``openai`` client talks to a local fake OpenAI server (``heso_testing``), so nothing
leaves the machine. Inside a heso project it uses that project's policy; elsewhere it
scaffolds a throwaway one whose policy blocks one model.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import openai

import heso
from heso.ledger import verify_chain
from heso.project import find_root, init_project
from heso_testing.providers import FakeProviderServer

DEMO_POLICY = """\
[policy]
default = "allow"

[[rule]]
id = "no-preview-models"
verb = "llm_call"
scope = "*"
conditions = [{ field = "model", op = "ends_with", value = "-preview", display = "preview model" }]
decision = "block"
"""


def run(server: FakeProviderServer) -> None:
    client = heso.wrap(openai.OpenAI(api_key="sk-local", base_url=server.openai_base_url))
    messages = [{"role": "user", "content": "Summarise ticket #4521"}]

    reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    print("allowed     ->", reply.choices[0].message.content)

    stream = client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    print("streamed    ->", text)

    # Keep long or sensitive prompts out of the receipt: a commitment stands in for them.
    with heso.step(workflow="triage", redact=["messages"]):
        client.responses.create(model="gpt-4o-mini", input="internal notes")
        print("redacted    -> responses.create recorded with a commitment to its input")

    try:
        client.chat.completions.create(model="gpt-5-preview", messages=messages)
    except heso.BlockedError as refusal:
        print(f"blocked     -> rule {refusal.rule_id}, receipt {refusal.action_hash[:12]}")
    print("provider    ->", server.count(), "requests reached the server")


def main() -> None:
    root = find_root()
    with tempfile.TemporaryDirectory(prefix="heso-wrap-") as tmp, FakeProviderServer() as server:
        if root is None:
            os.environ.setdefault("HESO_KDF_PROFILE", "interactive")  # throwaway key: fast KDF
            root = Path(tmp) / "project"
            init_project(root)
            (root / "heso.toml").write_text(DEMO_POLICY, encoding="utf-8")
            print(f"scaffolded a demo project in {root}")
        config = heso.init(project_root=root)
        try:
            run(server)
        finally:
            heso.shutdown()
        print("chain       ->", verify_chain(config.data_dir))


if __name__ == "__main__":
    main()
