"""heso.wrap gates every request a provider client sends, not just the generation methods.

Attacks from issue 15 (items 3 and 4): request-sending methods the proxy used to forward
ungated (``files.delete``, ``files.content``, ``messages.count_tokens``, ``beta.files.*`` …),
the delete floor bypassed through ``wrapped.request(...)``, ``extra_body`` overriding the
``model`` policy saw, and clients reachable from the wrapped one. Everything runs the real
openai and anthropic clients over HTTP against the local fake provider.
"""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest

import heso
from heso_testing.project import PINNED_CLOCK

GPT = "gpt-4o-mini"
CLAUDE = "claude-sonnet-4-5"

BLOCK_BY_DEFAULT = """
[policy]
default = "block"
"""

SCOPED_RULES = """
[policy]
default = "allow"

[[rule]]
id = "no-big-chat"
verb = "llm_call"
scope = "chat.completions.create"
conditions = [{ field = "model", op = "eq", value = "gpt-4.1" }]
decision = "block"

[[rule]]
id = "no-secret-token-counts"
verb = "http_request"
scope = "*/messages/count_tokens"
conditions = [{ field = "body.system", op = "contains", value = "SECRET" }]
decision = "block"
"""


def user(text):
    return [{"role": "user", "content": text}]


def _receipts(project):
    return project.receipts()


def _action(receipt):
    return receipt["content"]["action"]


@pytest.fixture
def blocking(heso_project):
    heso_project.write_policy(BLOCK_BY_DEFAULT)
    heso_project.init(clock_override=PINNED_CLOCK)
    return heso_project


@pytest.fixture
def scoped(heso_project):
    heso_project.write_policy(SCOPED_RULES)
    heso_project.init(clock_override=PINNED_CLOCK)
    return heso_project


@pytest.fixture
def allowing(sdk_project):
    """Allow by default; ``forbidden-model`` is blocked (the SDK tests' policy)."""
    return sdk_project


_opened: list = []


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    while _opened:
        _opened.pop().close()


def _openai(server, **options):
    options.setdefault("max_retries", 0)
    client = openai.OpenAI(api_key="test", base_url=server.openai_base_url, **options)
    _opened.append(client)
    return heso.wrap(client)


def _anthropic(server, **options):
    options.setdefault("max_retries", 0)
    client = anthropic.Anthropic(api_key="test", base_url=server.anthropic_base_url, **options)
    _opened.append(client)
    return heso.wrap(client)


def _final_options(module, **fields):
    return module._models.FinalRequestOptions.construct(**fields)


# -- item 3: every request-sending method is gated -------------------------------------------

OPENAI_CALLS = {
    "files.delete": lambda c: c.files.delete("file-1"),
    "models.delete": lambda c: c.models.delete("ft:gpt-4o-mini:acme"),
    "vector_stores.delete": lambda c: c.vector_stores.delete("vs_1"),
    "batches.cancel": lambda c: c.batches.cancel("batch_1"),
    "files.content": lambda c: c.files.content("file-1"),
    "responses.retrieve": lambda c: c.responses.retrieve("resp_1"),
    "models.list": lambda c: c.models.list(),
    "files.create": lambda c: c.files.create(file=("a.txt", b"hi"), purpose="assistants"),
    "with_raw_response.files.delete": lambda c: c.with_raw_response.files.delete("file-1"),
    "files.with_raw_response.content": lambda c: c.files.with_raw_response.content("file-1"),
    "with_streaming_response.files.content": lambda c: c.files.with_streaming_response.content(
        "file-1"
    ).__enter__(),
    "with_options().files.delete": lambda c: c.with_options(timeout=5).files.delete("file-1"),
    "copy().models.delete": lambda c: c.copy(max_retries=0).models.delete("m"),
    "a resource's own client": lambda c: c.chat.completions._client.get("/models", cast_to=object),
    "a resource's own client, copied": lambda c: c.files._client.copy().files.delete("file-1"),
    "low-level get": lambda c: c.get("/models", cast_to=object),
    "request(FinalRequestOptions)": lambda c: c.request(
        object, _final_options(openai, method="get", url="/models")
    ),
}


ANTHROPIC_CALLS = {
    "messages.count_tokens": lambda c: c.messages.count_tokens(
        model=CLAUDE, messages=user("the whole prompt")
    ),
    "beta.files.list": lambda c: c.beta.files.list(),
    "beta.files.upload": lambda c: c.beta.files.upload(file=("a.txt", b"hi", "text/plain")),
    "beta.files.download": lambda c: c.beta.files.download("file_1"),
    "beta.files.retrieve_metadata": lambda c: c.beta.files.retrieve_metadata("file_1"),
    "beta.files.delete": lambda c: c.beta.files.delete("file_1"),
    "with_raw_response.messages.count_tokens": lambda c: c.with_raw_response.messages.count_tokens(
        model=CLAUDE, messages=user("x")
    ),
    "with_options().beta.files.delete": lambda c: c.with_options(timeout=5).beta.files.delete("f"),
    "request(FinalRequestOptions)": lambda c: c.request(
        object, _final_options(anthropic, method="get", url="/v1/models")
    ),
}


CALLS = [("openai", name, call) for name, call in OPENAI_CALLS.items()] + [
    ("anthropic", name, call) for name, call in ANTHROPIC_CALLS.items()
]


@pytest.mark.parametrize(
    ("provider", "call"), [c[::2] for c in CALLS], ids=[f"{p}:{n}" for p, n, _ in CALLS]
)
def test_every_request_is_refused_under_default_block(blocking, fake_provider, provider, call):
    client = (_openai if provider == "openai" else _anthropic)(fake_provider)
    with pytest.raises(heso.BlockedError):
        call(client)
    assert fake_provider.count() == 0
    (receipt,) = _receipts(blocking)
    assert receipt["content"]["policy"]["decision"] == "block"


async def test_async_clients_gate_every_request(blocking, fake_provider):
    async with heso.wrap(
        openai.AsyncOpenAI(api_key="t", base_url=fake_provider.openai_base_url, max_retries=0)
    ) as oai:
        with pytest.raises(heso.BlockedError):
            await oai.files.delete("file-1")
        with pytest.raises(heso.BlockedError):
            await oai.with_options(timeout=5).responses.retrieve("resp_1")
        with pytest.raises(heso.BlockedError):
            async with oai.files.with_streaming_response.content("file-1"):
                pass
    async with heso.wrap(
        anthropic.AsyncAnthropic(
            api_key="t", base_url=fake_provider.anthropic_base_url, max_retries=0
        )
    ) as ant:
        with pytest.raises(heso.BlockedError):
            await ant.messages.count_tokens(model=CLAUDE, messages=user("x"))
        with pytest.raises(heso.BlockedError):
            await ant.beta.files.delete("file_1")
    assert fake_provider.count() == 0
    assert len(_receipts(blocking)) == 5


def test_allowed_requests_record_method_path_and_body(allowing, fake_provider):
    oai = _openai(fake_provider)
    assert oai.files.content("file-7").content == b"contents of file-7"
    assert oai.responses.retrieve("resp_3").output_text == "stored resp_3"
    oai.batches.cancel("batch_2")
    content, retrieve, cancel = (_action(r) for r in _receipts(allowing))
    base = fake_provider.openai_base_url
    assert content == {
        "verb": "http_request",
        "tool_name": f"{base}/files/file-7/content",
        "workflow": "default",
        "account": "default",
        "fields": {
            "method": "GET",
            "url": f"{base}/files/file-7/content",
            "path": "/v1/files/file-7/content",
        },
    }
    assert retrieve["fields"]["path"] == "/v1/responses/resp_3"
    assert (cancel["verb"], cancel["fields"]["method"]) == ("http_request", "POST")
    assert cancel["fields"]["path"] == "/v1/batches/batch_2/cancel"


def test_count_tokens_is_gated_on_the_prompt_it_sends(scoped, fake_provider):
    ant = _anthropic(fake_provider)
    assert ant.messages.count_tokens(model=CLAUDE, messages=user("a b c")).input_tokens == 3
    with pytest.raises(heso.BlockedError):
        ant.messages.count_tokens(model=CLAUDE, system="SECRET plan", messages=user("x"))
    assert fake_provider.count() == 1
    allowed, blocked = _receipts(scoped)
    assert _action(allowed)["fields"]["body"] == fake_provider.last_request.body
    assert _action(allowed)["fields"]["path"] == "/v1/messages/count_tokens"
    assert blocked["content"]["policy"]["rule_id"] == "no-secret-token-counts"


def test_deletes_are_delete_actions_and_meet_the_floor(allowing, fake_provider):
    oai = _openai(fake_provider)
    with pytest.raises(heso.SuspendedError):
        oai.files.delete("file-1")
    with pytest.raises(heso.SuspendedError):
        _anthropic(fake_provider).beta.files.delete("file_1")
    assert fake_provider.count() == 0
    first, second = (_action(r) for r in _receipts(allowing))
    assert first["verb"] == second["verb"] == "delete"
    assert first["fields"] == {
        "method": "DELETE",
        "url": f"{fake_provider.openai_base_url}/files/file-1",
        "path": "/v1/files/file-1",
    }
    assert second["fields"]["path"] == "/v1/files/file_1"


def test_every_client_reachable_from_the_wrapped_one_is_gated(blocking, fake_provider):
    oai = _openai(fake_provider)
    reachable = [
        oai.chat.completions._client,
        oai.with_options(max_retries=0),
        oai.files._client.with_options(timeout=3),
        oai.with_raw_response._client,
    ]
    for client in reachable:
        with pytest.raises(heso.BlockedError):
            client.models.list()
    assert fake_provider.count() == 0


# -- item 4: the delete floor through wrapped.request(...) -----------------------------------


def test_request_with_a_delete_method_meets_the_delete_floor(allowing, fake_provider):
    oai = _openai(fake_provider)
    options = _final_options(
        openai, method="delete", url="/files/file-9", json_data={"reason": "cleanup"}
    )
    with pytest.raises(heso.SuspendedError):
        oai.request(object, options)
    ant = _anthropic(fake_provider)
    with pytest.raises(heso.SuspendedError):
        ant.request(object, _final_options(anthropic, method="delete", url="/v1/files/f_2"))
    with pytest.raises(heso.SuspendedError):
        oai.delete("/vector_stores/vs_1", cast_to=object)
    assert fake_provider.count() == 0
    first, second, third = (_action(r) for r in _receipts(allowing))
    assert first["verb"] == "delete"
    assert first["fields"] == {
        "method": "DELETE",
        "url": f"{fake_provider.openai_base_url}/files/file-9",
        "path": "/v1/files/file-9",
        "body": {"reason": "cleanup"},
    }
    assert "unrepresentable" not in json.dumps(first)
    assert (second["verb"], second["fields"]["path"]) == ("delete", "/v1/files/f_2")
    assert (third["verb"], third["fields"]["method"]) == ("delete", "DELETE")


def test_a_wrapped_http_client_deletes_as_delete_actions(allowing):
    client = heso.wrap(httpx.Client())
    _opened.append(client)
    with pytest.raises(heso.SuspendedError):
        client.request("DELETE", "https://example.test/users/7")
    with pytest.raises(heso.SuspendedError):
        client.delete("https://example.test/users/8")
    first, second = (_action(r) for r in _receipts(allowing))
    assert first["verb"] == second["verb"] == "delete"
    assert first["fields"]["method"] == second["fields"]["method"] == "DELETE"


# -- the fields are the request that is sent -------------------------------------------------


def test_extra_body_cannot_smuggle_a_blocked_model(allowing, fake_provider):
    oai = _openai(fake_provider)
    with pytest.raises(heso.BlockedError):
        oai.chat.completions.create(
            model=GPT, messages=user("x"), extra_body={"model": "forbidden-model"}
        )
    ant = _anthropic(fake_provider)
    with pytest.raises(heso.BlockedError):
        ant.messages.create(
            model=CLAUDE, max_tokens=8, messages=user("x"), extra_body={"model": "forbidden-model"}
        )
    assert fake_provider.count() == 0
    (first, second) = (_action(r) for r in _receipts(allowing))
    assert first["fields"] == {"model": "forbidden-model", "messages": user("x")}
    assert second["fields"]["model"] == "forbidden-model"


def test_generation_fields_are_the_body_sent(allowing, fake_provider):
    oai = _openai(fake_provider)
    oai.chat.completions.create(
        model=GPT, messages=user("x"), temperature=openai.NOT_GIVEN, extra_body={"seed": 7}
    )
    (receipt,) = _receipts(allowing)
    assert _action(receipt)["tool_name"] == "chat.completions.create"
    assert _action(receipt)["fields"] == fake_provider.last_request.body
    assert _action(receipt)["fields"] == {"model": GPT, "messages": user("x"), "seed": 7}


def test_sdk_retries_mint_one_receipt_and_resend_the_gated_bytes(allowing, fake_provider):
    oai = _openai(fake_provider, max_retries=2)
    fake_provider.fail_next(500, times=2)
    completion = oai.chat.completions.create(model=GPT, messages=user("retry me"))
    assert completion.choices[0].message.content == "echo: retry me"
    assert fake_provider.count() == 3
    (receipt,) = _receipts(allowing)
    sent = {r.raw_body for r in fake_provider.requests}
    assert len(sent) == 1
    assert json.loads(sent.pop()) == _action(receipt)["fields"]


def test_a_scoped_rule_covers_every_helper_of_its_endpoint(scoped, fake_provider):
    oai = _openai(fake_provider)
    with (
        pytest.raises(heso.BlockedError),
        oai.chat.completions.stream(model="gpt-4.1", messages=user("x")),
    ):
        pass
    with pytest.raises(heso.BlockedError):
        oai.chat.completions.parse(model="gpt-4.1", messages=user("x"))
    with pytest.raises(heso.BlockedError):
        oai.post("/chat/completions", body={"model": "gpt-4.1", "messages": []}, cast_to=object)
    assert fake_provider.count() == 0
    assert {r["content"]["policy"]["rule_id"] for r in _receipts(scoped)} == {"no-big-chat"}


def test_stream_helpers_are_gated_when_they_send(allowing, fake_provider):
    oai = _openai(fake_provider)
    manager = oai.chat.completions.stream(model="forbidden-model", messages=user("x"))
    with pytest.raises(heso.BlockedError), manager:
        pass
    ant = _anthropic(fake_provider)
    with (
        pytest.raises(heso.BlockedError),
        ant.messages.stream(model="forbidden-model", max_tokens=8, messages=user("x")),
    ):
        pass
    assert fake_provider.count() == 0


def test_realtime_sessions_are_refused(allowing, fake_provider):
    oai = _openai(fake_provider)
    with pytest.raises(heso.BlockedError, match="cannot gate"):
        with oai.realtime.connect(model="gpt-realtime"):
            pass
    assert fake_provider.count() == 0


def test_a_retry_that_sends_other_bytes_is_gated_again(allowing, fake_provider):
    """Middleware may change a retry's request: those bytes are gated, not waved through."""

    def swap_model_on_retry(request, call_next):
        if request.retries_taken:
            request.options.json_data = {**request.options.json_data, "model": "forbidden-model"}
        return call_next(request)

    ant = _anthropic(fake_provider, max_retries=1).with_middleware(swap_model_on_retry)
    fake_provider.fail_next(500)
    with pytest.raises(heso.BlockedError):
        ant.messages.create(model=CLAUDE, max_tokens=8, messages=user("x"))
    assert fake_provider.count() == 1  # the first attempt; the changed retry never left
    first, second = _receipts(allowing)
    assert _action(first)["fields"]["model"] == CLAUDE
    assert _action(second)["fields"]["model"] == "forbidden-model"
    assert second["content"]["policy"]["decision"] == "block"


def test_the_action_hash_is_current_while_the_request_is_sent(allowing, fake_provider):
    seen = []
    http = httpx.Client(
        event_hooks={"request": [lambda r: seen.append(heso.current_action_hash())]}
    )
    client = heso.wrap(
        openai.OpenAI(api_key="t", base_url=fake_provider.openai_base_url, http_client=http)
    )
    _opened.append(client)
    client.models.list()
    client.chat.completions.create(model=GPT, messages=user("x"))
    assert seen == [r["content"]["action_hash"] for r in _receipts(allowing)]
    assert heso.current_action_hash() is None


async def test_a_body_heso_cannot_read_before_sending_is_refused(allowing, fake_provider):
    async def chunks():
        yield b"streamed "
        yield b"upload"

    async with heso.wrap(
        openai.AsyncOpenAI(api_key="t", base_url=fake_provider.openai_base_url, max_retries=0)
    ) as oai:
        with pytest.raises(heso.BlockedError, match="cannot gate"):
            await oai.post("/uploads/up_1/parts", content=chunks(), cast_to=object)
    assert fake_provider.count() == 0
    assert _receipts(allowing) == []


def test_azure_deployment_urls_are_still_model_calls(allowing, fake_provider):
    azure = openai.AzureOpenAI(
        api_key="t", api_version="2024-10-21", azure_endpoint=fake_provider.url, max_retries=0
    )
    _opened.append(azure)
    with pytest.raises(heso.BlockedError):
        heso.wrap(azure).chat.completions.create(model="forbidden-model", messages=user("x"))
    assert fake_provider.count() == 0
    (receipt,) = _receipts(allowing)
    assert (_action(receipt)["verb"], _action(receipt)["tool_name"]) == (
        "llm_call",
        "chat.completions.create",
    )
