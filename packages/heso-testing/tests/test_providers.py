"""The fake provider server, exercised only through the real openai and anthropic clients."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import openai
import pytest
from pydantic import BaseModel

from heso_testing.providers import OPENAI_MODELS, FakeProviderServer

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
EMBEDDINGS = "/v1/embeddings"
MODELS = "/v1/models"
MESSAGES = "/v1/messages"
COUNT_TOKENS = "/v1/messages/count_tokens"

GPT = "gpt-4o-mini"
CLAUDE = "claude-sonnet-4-5"


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def strict(model: BaseModel) -> None:
    """Fail unless ``model`` (built leniently by the client) passes full pydantic validation."""
    type(model).model_validate(model.model_dump(mode="json"))


@pytest.fixture
def oai(fake_provider: FakeProviderServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        api_key="test", base_url=fake_provider.openai_base_url, max_retries=0
    ) as client:
        yield client


@pytest.fixture
async def aoai(fake_provider: FakeProviderServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        api_key="test", base_url=fake_provider.openai_base_url, max_retries=0
    ) as client:
        yield client


@pytest.fixture
def ant(fake_provider: FakeProviderServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        api_key="test", base_url=fake_provider.anthropic_base_url, max_retries=0
    ) as client:
        yield client


@pytest.fixture
async def aant(fake_provider: FakeProviderServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        api_key="test", base_url=fake_provider.anthropic_base_url, max_retries=0
    ) as client:
        yield client


# -- server lifecycle and request log ------------------------------------------------------


def test_fixture_serves_on_loopback_with_provider_base_urls(
    fake_provider: FakeProviderServer,
) -> None:
    assert fake_provider.url == f"http://127.0.0.1:{fake_provider.port}"
    assert fake_provider.openai_base_url == f"{fake_provider.url}/v1"
    assert fake_provider.anthropic_base_url == fake_provider.url
    assert fake_provider.count() == 0
    assert fake_provider.requests == []
    with pytest.raises(LookupError):
        _ = fake_provider.last_request


def test_stop_releases_the_port_and_refuses_connections() -> None:
    server = FakeProviderServer().start()
    port = server.port
    with pytest.raises(RuntimeError, match="already started"):
        server.start()
    server.stop()
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port


def test_stop_drops_idle_keep_alive_connections() -> None:
    with FakeProviderServer() as server:
        client = openai.OpenAI(api_key="test", base_url=server.openai_base_url, max_retries=0)
        client.models.list()
    with pytest.raises(openai.APIConnectionError):
        client.models.list()
    client.close()
    assert server.count() == 1


def test_requests_are_recorded_with_headers_and_parsed_body(
    fake_provider: FakeProviderServer, oai: openai.OpenAI
) -> None:
    oai.chat.completions.create(model=GPT, messages=user("record me"), temperature=0.5)
    (request,) = fake_provider.requests
    assert request.method == "POST"
    assert request.path == CHAT
    assert request.provider == "openai"
    assert request.headers["authorization"] == "Bearer test"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {"model": GPT, "messages": user("record me"), "temperature": 0.5}
    assert json.loads(request.raw_body) == request.body
    assert fake_provider.last_request == request


def test_count_is_exact_per_path_and_method_and_reset_clears(
    fake_provider: FakeProviderServer, oai: openai.OpenAI, ant: anthropic.Anthropic
) -> None:
    for _ in range(3):
        oai.chat.completions.create(model=GPT, messages=user("a"))
    oai.models.list()
    ant.messages.create(model=CLAUDE, max_tokens=32, messages=user("b"))
    ant.messages.count_tokens(model=CLAUDE, messages=user("b"))

    assert fake_provider.count() == 6
    assert fake_provider.count(CHAT) == 3
    assert fake_provider.count(MODELS) == 1
    assert fake_provider.count(MESSAGES) == 1
    assert fake_provider.count(COUNT_TOKENS) == 1
    assert fake_provider.count(RESPONSES) == 0
    assert fake_provider.count(method="GET") == 1
    assert fake_provider.count(CHAT, method="GET") == 0
    assert [r.provider for r in fake_provider.requests] == ["openai"] * 4 + ["anthropic"] * 2

    fake_provider.fail_next(500)
    fake_provider.reset()
    assert fake_provider.count() == 0
    assert fake_provider.requests == []
    oai.models.list()  # the failure queued before reset() is gone
    assert fake_provider.count(MODELS) == 1


def test_an_unused_client_reaches_nothing(fake_provider: FakeProviderServer) -> None:
    with openai.OpenAI(api_key="test", base_url=fake_provider.openai_base_url, max_retries=0):
        pass
    with anthropic.Anthropic(api_key="test", base_url=fake_provider.anthropic_base_url):
        pass
    assert fake_provider.count() == 0


def test_concurrent_requests_are_all_counted(fake_provider: FakeProviderServer) -> None:
    def call(i: int) -> None:
        with openai.OpenAI(
            api_key="test", base_url=fake_provider.openai_base_url, max_retries=0
        ) as client:
            for j in range(5):
                client.chat.completions.create(model=GPT, messages=user(f"{i}-{j}"))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fake_provider.count(CHAT) == 30
    assert len({r.request_id for r in fake_provider.requests}) == 30
    prompts = sorted(r.body["messages"][0]["content"] for r in fake_provider.requests)
    assert prompts == sorted(f"{i}-{j}" for i in range(6) for j in range(5))


# -- OpenAI chat completions ---------------------------------------------------------------


def test_chat_completion_echoes_the_last_user_message(
    fake_provider: FakeProviderServer, oai: openai.OpenAI
) -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "second turn"}]},
    ]
    completion = oai.chat.completions.create(model=GPT, messages=messages)
    strict(completion)
    assert completion.choices[0].message.content == "echo: second turn"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == GPT
    assert completion.usage is not None
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert completion._request_id == fake_provider.last_request.request_id
    assert fake_provider.count(CHAT) == 1


def test_chat_stream_true_yields_chunks_then_usage(
    fake_provider: FakeProviderServer, oai: openai.OpenAI
) -> None:
    stream = oai.chat.completions.create(
        model=GPT,
        messages=user("stream these words"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    for chunk in chunks:
        strict(chunk)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream these words"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 4
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert len({c.id for c in chunks}) == 1
    assert fake_provider.count(CHAT) == 1
    assert fake_provider.last_request.body["stream"] is True


def test_chat_stream_without_include_usage_sends_no_usage_chunk(oai: openai.OpenAI) -> None:
    chunks = list(oai.chat.completions.create(model=GPT, messages=user("x"), stream=True))
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


def test_chat_stream_helper_accumulates_the_final_completion(
    fake_provider: FakeProviderServer, oai: openai.OpenAI
) -> None:
    with oai.chat.completions.stream(model=GPT, messages=user("helper path")) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == "echo: helper path"
    assert final.choices[0].message.content == "echo: helper path"
    assert final.choices[0].finish_reason == "stop"
    assert fake_provider.count(CHAT) == 1
    assert fake_provider.last_request.headers["x-stainless-helper-method"] == (
        "chat.completions.stream"
    )


def test_chat_with_raw_response_exposes_headers_and_parses(
    fake_provider: FakeProviderServer, oai: openai.OpenAI
) -> None:
    raw = oai.chat.completions.with_raw_response.create(model=GPT, messages=user("raw"))
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "application/json"
    assert raw.headers["x-request-id"] == fake_provider.last_request.request_id
    assert raw.request_id == fake_provider.last_request.request_id
    assert raw.parse().choices[0].message.content == "echo: raw"
    assert fake_provider.count(CHAT) == 1


def test_chat_with_streaming_response_reads_json_and_sse_lines(
    fake_provider: FakeProviderServer, oai: openai.OpenAI
) -> None:
    with oai.chat.completions.with_streaming_response.create(
        model=GPT, messages=user("lazy")
    ) as response:
        assert response.json()["choices"][0]["message"]["content"] == "echo: lazy"

    with oai.chat.completions.with_streaming_response.create(
        model=GPT, messages=user("lazy sse"), stream=True
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    payloads = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert all(p["object"] == "chat.completion.chunk" for p in payloads)
    assert "".join(p["choices"][0]["delta"].get("content") or "" for p in payloads) == (
        "echo: lazy sse"
    )
    assert fake_provider.count(CHAT) == 2


# -- OpenAI responses ----------------------------------------------------------------------


def test_responses_create_echoes_string_and_item_input(
    fake_provider: FakeProviderServer, oai: openai.OpenAI
) -> None:
    response = oai.responses.create(model=GPT, input="plain input", instructions="be terse")
    strict(response)
    assert response.output_text == "echo: plain input"
    assert response.status == "completed"
    assert response.instructions == "be terse"
    assert response.usage is not None and response.usage.output_tokens == 3
    assert response._request_id == fake_provider.last_request.request_id

    items = [
        {"role": "user", "content": "older"},
        {"role": "assistant", "content": "reply"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "newer"}]},
    ]
    assert oai.responses.create(model=GPT, input=items).output_text == "echo: newer"
    assert fake_provider.count(RESPONSES) == 2


def test_responses_stream_true_emits_the_full_event_sequence(
    fake_provider: FakeProviderServer, oai: openai.OpenAI
) -> None:
    events = list(oai.responses.create(model=GPT, input="one two", stream=True))
    for event in events:
        strict(event)
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "echo: one two"
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == "echo: one two"
    assert fake_provider.count(RESPONSES) == 1


def test_responses_stream_helper_returns_the_final_response(
    fake_provider: FakeProviderServer, oai: openai.OpenAI
) -> None:
    with oai.responses.stream(model=GPT, input="via helper") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == "echo: via helper"
    assert final.output_text == "echo: via helper"
    assert final.status == "completed"
    assert fake_provider.count(RESPONSES) == 1


def test_responses_with_raw_and_streaming_response(
    fake_provider: FakeProviderServer, oai: openai.OpenAI
) -> None:
    raw = oai.responses.with_raw_response.create(model=GPT, input="raw")
    assert raw.parse().output_text == "echo: raw"
    with oai.responses.with_streaming_response.create(
        model=GPT, input="sse", stream=True
    ) as response:
        lines = list(response.iter_lines())
    event_names = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    assert event_names[0] == "response.created"
    assert event_names[-1] == "response.completed"
    assert fake_provider.count(RESPONSES) == 2


# -- OpenAI embeddings and models ----------------------------------------------------------


def test_embeddings_float_and_default_base64_agree(
    fake_provider: FakeProviderServer, oai: openai.OpenAI
) -> None:
    as_float = oai.embeddings.create(
        model="text-embedding-3-small", input=["alpha", "beta"], encoding_format="float"
    )
    strict(as_float)
    default = oai.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
    assert fake_provider.requests[1].body["encoding_format"] == "base64"
    assert [d.embedding for d in default.data] == [d.embedding for d in as_float.data]
    assert [d.index for d in as_float.data] == [0, 1]
    assert as_float.data[0].embedding != as_float.data[1].embedding
    assert len(as_float.data[0].embedding) == 8
    assert as_float.usage.total_tokens == 2

    sized = oai.embeddings.create(model="text-embedding-3-small", input="gamma", dimensions=3)
    assert len(sized.data) == 1 and len(sized.data[0].embedding) == 3
    assert fake_provider.count(EMBEDDINGS) == 3


def test_models_list_and_retrieve(fake_provider: FakeProviderServer, oai: openai.OpenAI) -> None:
    ids = [m.id for m in oai.models.list()]
    assert GPT in ids
    model = oai.models.retrieve(GPT)
    strict(model)
    assert model.id == GPT
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("no-such-model")
    assert fake_provider.count(MODELS) == 1
    assert fake_provider.count(method="GET") == 3


def test_openai_files_models_stores_batches_and_stored_responses(
    fake_provider: FakeProviderServer, oai: openai.OpenAI
) -> None:
    uploaded = oai.files.create(file=("notes.txt", b"line one\n"), purpose="assistants")
    strict(uploaded)
    assert (uploaded.filename, uploaded.bytes, uploaded.purpose) == ("notes.txt", 9, "assistants")
    assert oai.files.content(uploaded.id).content == f"contents of {uploaded.id}".encode()
    assert oai.files.retrieve("file-1").id == "file-1"
    assert oai.files.delete("file-1").deleted
    assert oai.models.delete("ft:custom").deleted
    assert oai.vector_stores.delete("vs_1").deleted
    assert oai.batches.cancel("batch_1").status == "cancelling"
    assert oai.responses.retrieve("resp_9").output_text == "stored resp_9"
    assert fake_provider.count("/v1/files/file-1", method="DELETE") == 1
    assert fake_provider.count(method="DELETE") == 3


def test_anthropic_beta_files(fake_provider: FakeProviderServer, ant: anthropic.Anthropic) -> None:
    uploaded = ant.beta.files.upload(file=("a.txt", b"abc", "text/plain"))
    strict(uploaded)
    assert (uploaded.filename, uploaded.size_bytes) == ("a.txt", 3)
    assert ant.beta.files.download("file_1").read() == b"contents of file_1"
    assert ant.beta.files.retrieve_metadata("file_1").id == "file_1"
    assert list(ant.beta.files.list()) == []
    assert ant.beta.files.delete("file_1").type == "file_deleted"
    assert {r.provider for r in fake_provider.requests} == {"anthropic"}


# -- Anthropic messages --------------------------------------------------------------------


def test_messages_create_echoes_the_last_user_turn(
    fake_provider: FakeProviderServer, ant: anthropic.Anthropic
) -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "second turn"}]},
    ]
    message = ant.messages.create(model=CLAUDE, max_tokens=64, messages=messages, system="sys")
    strict(message)
    assert message.content[0].type == "text"
    assert message.content[0].text == "echo: second turn"
    assert message.stop_reason == "end_turn"
    assert message.model == CLAUDE
    assert message.usage.output_tokens == 3
    assert message._request_id == fake_provider.last_request.request_id
    request = fake_provider.last_request
    assert request.provider == "anthropic"
    assert "anthropic-version" in request.headers
    assert request.body["system"] == "sys"
    assert fake_provider.count(MESSAGES) == 1


def test_messages_stream_true_yields_the_event_sequence(
    fake_provider: FakeProviderServer, ant: anthropic.Anthropic
) -> None:
    events = list(
        ant.messages.create(model=CLAUDE, max_tokens=64, messages=user("a b"), stream=True)
    )
    for event in events:
        strict(event)
    assert [e.type for e in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    text = "".join(
        e.delta.text
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )
    assert text == "echo: a b"
    delta = events[-2]
    assert delta.type == "message_delta"
    assert delta.delta.stop_reason == "end_turn"
    assert delta.usage.output_tokens == 3
    assert fake_provider.count(MESSAGES) == 1


def test_messages_stream_helper_accumulates_the_final_message(
    fake_provider: FakeProviderServer, ant: anthropic.Anthropic
) -> None:
    with ant.messages.stream(model=CLAUDE, max_tokens=64, messages=user("helper")) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert pieces == ["echo: ", "helper"]
    assert final.content[0].type == "text"
    assert final.content[0].text == "echo: helper"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 2
    assert fake_provider.count(MESSAGES) == 1


def test_messages_with_raw_and_streaming_response(
    fake_provider: FakeProviderServer, ant: anthropic.Anthropic
) -> None:
    raw = ant.messages.with_raw_response.create(model=CLAUDE, max_tokens=64, messages=user("r"))
    assert raw.headers["request-id"] == fake_provider.last_request.request_id
    message = raw.parse()
    assert message.content[0].type == "text" and message.content[0].text == "echo: r"

    with ant.messages.with_streaming_response.create(
        model=CLAUDE, max_tokens=64, messages=user("s"), stream=True
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = list(response.iter_lines())
    events = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    assert events[0] == "message_start"
    assert events[-1] == "message_stop"
    assert "ping" in events
    assert fake_provider.count(MESSAGES) == 2


def test_count_tokens(fake_provider: FakeProviderServer, ant: anthropic.Anthropic) -> None:
    counted = ant.messages.count_tokens(
        model=CLAUDE, system="one two", messages=user("three four five")
    )
    strict(counted)
    assert counted.input_tokens == 5
    assert fake_provider.count(COUNT_TOKENS) == 1
    assert fake_provider.count(MESSAGES) == 0


# -- error injection -----------------------------------------------------------------------


def test_openai_rate_limit_is_the_clients_own_exception(
    fake_provider: FakeProviderServer, oai: openai.OpenAI
) -> None:
    fake_provider.fail_next(429)
    with pytest.raises(openai.RateLimitError) as caught:
        oai.chat.completions.create(model=GPT, messages=user("x"))
    assert caught.value.status_code == 429
    assert caught.value.request_id == fake_provider.last_request.request_id
    assert isinstance(caught.value.body, dict) and caught.value.body["code"] == (
        "rate_limit_exceeded"
    )
    assert oai.chat.completions.create(model=GPT, messages=user("y")).choices
    assert fake_provider.count(CHAT) == 2


def test_anthropic_rate_limit_is_the_clients_own_exception(
    fake_provider: FakeProviderServer, ant: anthropic.Anthropic
) -> None:
    fake_provider.fail_next(429, headers={"retry-after": "7"})
    with pytest.raises(anthropic.RateLimitError) as caught:
        ant.messages.create(model=CLAUDE, max_tokens=64, messages=user("x"))
    assert caught.value.status_code == 429
    assert caught.value.request_id == fake_provider.last_request.request_id
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert fake_provider.count(MESSAGES) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_openai_statuses_map_to_exception_types(
    fake_provider: FakeProviderServer, oai: openai.OpenAI, status: int, error: type[Exception]
) -> None:
    fake_provider.fail_next(status)
    with pytest.raises(error):
        oai.responses.create(model=GPT, input="x")
    assert fake_provider.count(RESPONSES) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, anthropic.BadRequestError),
        (401, anthropic.AuthenticationError),
        (403, anthropic.PermissionDeniedError),
        (500, anthropic.InternalServerError),
        (529, anthropic.OverloadedError),
    ],
)
def test_anthropic_statuses_map_to_exception_types(
    fake_provider: FakeProviderServer, ant: anthropic.Anthropic, status: int, error: type[Exception]
) -> None:
    fake_provider.fail_next(status)
    with pytest.raises(error):
        ant.messages.create(model=CLAUDE, max_tokens=64, messages=user("x"))
    assert fake_provider.count(MESSAGES) == 1


def test_failure_with_custom_body_path_filter_and_repeat(
    fake_provider: FakeProviderServer, oai: openai.OpenAI
) -> None:
    body = {"error": {"message": "slow down", "type": "tokens", "param": None, "code": "custom"}}
    fake_provider.fail_next(429, body, path=EMBEDDINGS, times=2)
    oai.models.list()  # other paths are untouched
    for _ in range(2):
        with pytest.raises(openai.RateLimitError) as caught:
            oai.embeddings.create(model="text-embedding-3-small", input="x")
        assert caught.value.body == body["error"]
        assert "slow down" in caught.value.message
    assert oai.embeddings.create(model="text-embedding-3-small", input="x").data
    assert fake_provider.count(EMBEDDINGS) == 3
    assert fake_provider.count() == 4


def test_failures_are_consumed_in_order(
    fake_provider: FakeProviderServer, ant: anthropic.Anthropic
) -> None:
    fake_provider.fail_next(529)
    fake_provider.fail_next(401)
    with pytest.raises(anthropic.OverloadedError):
        ant.messages.count_tokens(model=CLAUDE, messages=user("x"))
    with pytest.raises(anthropic.AuthenticationError):
        ant.messages.count_tokens(model=CLAUDE, messages=user("x"))
    assert ant.messages.count_tokens(model=CLAUDE, messages=user("x")).input_tokens == 1


def test_streaming_calls_fail_before_the_first_event(
    fake_provider: FakeProviderServer, oai: openai.OpenAI, ant: anthropic.Anthropic
) -> None:
    fake_provider.fail_next(429)
    with pytest.raises(openai.RateLimitError):
        oai.chat.completions.create(model=GPT, messages=user("x"), stream=True)
    fake_provider.fail_next(429)
    with pytest.raises(openai.RateLimitError):
        with oai.responses.stream(model=GPT, input="x"):
            pass
    fake_provider.fail_next(429)
    with pytest.raises(anthropic.RateLimitError):
        with ant.messages.stream(model=CLAUDE, max_tokens=64, messages=user("x")):
            pass
    assert fake_provider.count() == 3


def test_fail_next_rejects_non_errors(fake_provider: FakeProviderServer) -> None:
    with pytest.raises(ValueError):
        fake_provider.fail_next(200)
    with pytest.raises(ValueError):
        fake_provider.fail_next(500, times=0)


def test_invalid_requests_get_the_providers_error_envelope(
    fake_provider: FakeProviderServer,
) -> None:
    def post(path: str, body: object, headers: dict[str, str]) -> tuple[int, Any]:
        request = urllib.request.Request(
            fake_provider.url + path,
            data=json.dumps(body).encode(),
            headers={"content-type": "application/json", **headers},
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)
        with caught.value as response:
            return response.status, json.load(response)

    status, body = post(MESSAGES, {"model": CLAUDE, "messages": []}, {})
    assert status == 400
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]

    status, body = post("/v1/nowhere", {}, {})
    assert status == 404
    assert body["error"]["type"] == "invalid_request_error"

    status, body = post("/v1/nowhere", {}, {"anthropic-version": "2023-06-01"})
    assert status == 404
    assert body["error"]["type"] == "not_found_error"
    assert fake_provider.count() == 3


# -- async clients -------------------------------------------------------------------------


async def test_async_openai_chat_responses_and_embeddings(
    fake_provider: FakeProviderServer, aoai: openai.AsyncOpenAI
) -> None:
    completion = await aoai.chat.completions.create(model=GPT, messages=user("async"))
    assert completion.choices[0].message.content == "echo: async"

    stream = await aoai.chat.completions.create(model=GPT, messages=user("a s"), stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == "echo: a s"

    async with aoai.chat.completions.stream(model=GPT, messages=user("helper")) as helper:
        final = await helper.get_final_completion()
    assert final.choices[0].message.content == "echo: helper"

    response = await aoai.responses.create(model=GPT, input="resp")
    assert response.output_text == "echo: resp"
    events = [e async for e in await aoai.responses.create(model=GPT, input="r", stream=True)]
    assert events[-1].type == "response.completed"
    async with aoai.responses.stream(model=GPT, input="rh") as rstream:
        assert (await rstream.get_final_response()).output_text == "echo: rh"

    embedded = await aoai.embeddings.create(model="text-embedding-3-small", input="e")
    assert len(embedded.data[0].embedding) == 8
    assert [m.id async for m in aoai.models.list()] == list(OPENAI_MODELS)

    assert fake_provider.count(CHAT) == 3
    assert fake_provider.count(RESPONSES) == 3
    assert fake_provider.count(EMBEDDINGS) == 1
    assert fake_provider.count(MODELS) == 1
    assert fake_provider.last_request.headers["x-stainless-async"].startswith("async:")


async def test_async_openai_raw_streaming_and_errors(
    fake_provider: FakeProviderServer, aoai: openai.AsyncOpenAI
) -> None:
    raw = await aoai.chat.completions.with_raw_response.create(model=GPT, messages=user("r"))
    assert raw.request_id == fake_provider.last_request.request_id
    assert raw.parse().choices[0].message.content == "echo: r"

    async with aoai.chat.completions.with_streaming_response.create(
        model=GPT, messages=user("s"), stream=True
    ) as response:
        lines = [line async for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"

    fake_provider.fail_next(429)
    with pytest.raises(openai.RateLimitError):
        await aoai.chat.completions.create(model=GPT, messages=user("x"))
    assert fake_provider.count(CHAT) == 3


async def test_async_anthropic_messages_stream_and_count_tokens(
    fake_provider: FakeProviderServer, aant: anthropic.AsyncAnthropic
) -> None:
    message = await aant.messages.create(model=CLAUDE, max_tokens=64, messages=user("async"))
    assert message.content[0].type == "text" and message.content[0].text == "echo: async"

    stream = await aant.messages.create(
        model=CLAUDE, max_tokens=64, messages=user("s"), stream=True
    )
    types = [event.type async for event in stream]
    assert types[0] == "message_start" and types[-1] == "message_stop"

    async with aant.messages.stream(model=CLAUDE, max_tokens=64, messages=user("h")) as helper:
        pieces = [text async for text in helper.text_stream]
        final = await helper.get_final_message()
    assert "".join(pieces) == "echo: h"
    assert final.content[0].type == "text" and final.content[0].text == "echo: h"

    counted = await aant.messages.count_tokens(model=CLAUDE, messages=user("one two"))
    assert counted.input_tokens == 2
    assert fake_provider.count(MESSAGES) == 3
    assert fake_provider.count(COUNT_TOKENS) == 1


async def test_async_anthropic_raw_streaming_and_errors(
    fake_provider: FakeProviderServer, aant: anthropic.AsyncAnthropic
) -> None:
    raw = await aant.messages.with_raw_response.create(
        model=CLAUDE, max_tokens=64, messages=user("r")
    )
    assert raw.headers["request-id"] == fake_provider.last_request.request_id
    parsed = await raw.parse()
    assert parsed.content[0].type == "text" and parsed.content[0].text == "echo: r"

    async with aant.messages.with_streaming_response.create(
        model=CLAUDE, max_tokens=64, messages=user("s")
    ) as response:
        body = await response.json()
    assert body["content"][0]["text"] == "echo: s"

    fake_provider.fail_next(529)
    with pytest.raises(anthropic.OverloadedError):
        async with aant.messages.stream(model=CLAUDE, max_tokens=64, messages=user("x")):
            pass
    assert fake_provider.count(MESSAGES) == 3
