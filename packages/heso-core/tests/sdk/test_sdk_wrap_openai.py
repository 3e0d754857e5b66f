"""heso.wrap with the real openai client against the local fake provider."""

from __future__ import annotations

import asyncio
import inspect
import json

import openai
import pytest

import heso
from heso.wrap import unwrap

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
GPT = "gpt-4o-mini"


def user(text):
    return [{"role": "user", "content": text}]


def _actions(project):
    return [r["content"]["action"] for r in project.receipts()]


# -- allowed calls return the provider's real objects --------------------------------------


def test_chat_completion_is_gated_and_returns_the_real_response(sdk_project, oai, fake_provider):
    completion = oai.chat.completions.create(model=GPT, messages=user("hi"), temperature=0.5)
    assert isinstance(completion, openai.types.chat.ChatCompletion)
    assert completion.choices[0].message.content == "echo: hi"
    assert fake_provider.count(CHAT) == 1
    (receipt,) = sdk_project.receipts()
    action = receipt["content"]["action"]
    assert (action["verb"], action["tool_name"]) == ("llm_call", "chat.completions.create")
    assert action["fields"] == {"model": GPT, "messages": user("hi"), "temperature": 0.5}
    assert receipt["content"]["policy"]["decision"] == "allow"


def test_stream_true_returns_the_stream(sdk_project, oai, fake_provider):
    stream = oai.chat.completions.create(model=GPT, messages=user("a b c"), stream=True)
    assert isinstance(stream, openai.Stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "echo: a b c"
    assert _actions(sdk_project)[0]["fields"]["stream"] is True


def test_with_raw_response_at_either_depth_keeps_the_tool_name(sdk_project, oai, fake_provider):
    raw = oai.chat.completions.with_raw_response.create(model=GPT, messages=user("x"))
    assert raw.headers["x-request-id"].startswith("req_fake_")
    assert raw.parse().choices[0].message.content == "echo: x"
    raw2 = oai.with_raw_response.chat.completions.create(model=GPT, messages=user("y"))
    assert raw2.parse().choices[0].message.content == "echo: y"
    assert [a["tool_name"] for a in _actions(sdk_project)] == ["chat.completions.create"] * 2
    assert fake_provider.count(CHAT) == 2


def test_with_streaming_response(sdk_project, oai, fake_provider):
    with oai.chat.completions.with_streaming_response.create(
        model=GPT, messages=user("s")
    ) as response:
        body = json.loads(b"".join(response.iter_bytes()))
    assert body["choices"][0]["message"]["content"] == "echo: s"
    assert _actions(sdk_project)[0]["tool_name"] == "chat.completions.create"


def test_responses_embeddings_and_the_stream_helper(sdk_project, oai, fake_provider):
    response = oai.responses.create(model=GPT, input="hello")
    assert response.output_text == "echo: hello"
    embedding = oai.embeddings.create(model="text-embedding-3-small", input="x")
    assert len(embedding.data[0].embedding) == 8
    with oai.chat.completions.stream(model=GPT, messages=user("helper")) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "echo: helper"
    with oai.responses.stream(model=GPT, input="rs") as rstream:
        assert rstream.get_final_response().output_text == "echo: rs"
    # A helper sends its endpoint's request, and is named (and scoped) by that endpoint.
    assert [a["tool_name"] for a in _actions(sdk_project)] == [
        "responses.create",
        "embeddings.create",
        "chat.completions.create",
        "responses.create",
    ]
    assert [a["fields"] for a in _actions(sdk_project)] == [r.body for r in fake_provider.requests]


def test_parse_records_the_response_format_it_sends(sdk_project, oai, fake_provider):
    from pydantic import BaseModel

    class Answer(BaseModel):
        text: str

    fake_provider.fail_next(400, path=CHAT)
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.parse(model=GPT, messages=user("p"), response_format=Answer)
    (action,) = _actions(sdk_project)
    assert action["tool_name"] == "chat.completions.create"
    assert action["fields"]["response_format"]["json_schema"]["name"] == "Answer"
    assert action["fields"] == fake_provider.last_request.body


# -- refusals never reach the provider -----------------------------------------------------


def test_blocked_call_never_reaches_the_provider(sdk_project, oai, fake_provider):
    with pytest.raises(heso.BlockedError) as err:
        oai.chat.completions.create(model="forbidden-model", messages=user("hi"))
    assert err.value.rule_id == "no-forbidden-model"
    with pytest.raises(heso.BlockedError):
        oai.with_raw_response.chat.completions.create(model="forbidden-model", messages=user("x"))
    with pytest.raises(heso.BlockedError):
        with oai.chat.completions.with_streaming_response.create(
            model="forbidden-model", messages=user("x")
        ):
            pass
    with pytest.raises(heso.BlockedError):
        with oai.chat.completions.stream(model="forbidden-model", messages=user("x")):
            pass
    assert fake_provider.count() == 0
    assert [r["content"]["policy"]["decision"] for r in sdk_project.receipts()] == ["block"] * 4


def test_suspended_call_never_reaches_the_provider(sdk_project, oai, fake_provider):
    with pytest.raises(heso.SuspendedError) as err:
        oai.chat.completions.create(model="review-model", messages=user("hi"), stream=True)
    assert err.value.rule_id == "review-model"
    assert err.value.action_hash == sdk_project.receipts()[0]["content"]["action_hash"]
    assert fake_provider.count() == 0


def test_provider_errors_are_the_providers_own(sdk_project, oai, fake_provider):
    fake_provider.fail_next(429)
    with pytest.raises(openai.RateLimitError):
        oai.chat.completions.create(model=GPT, messages=user("hi"))
    assert fake_provider.count(CHAT) == 1
    assert len(sdk_project.receipts()) == 1


# -- async ---------------------------------------------------------------------------------


async def test_async_client(sdk_project, aoai, fake_provider):
    completion = await aoai.chat.completions.create(model=GPT, messages=user("async"))
    assert completion.choices[0].message.content == "echo: async"
    stream = await aoai.chat.completions.create(model=GPT, messages=user("as"), stream=True)
    assert isinstance(stream, openai.AsyncStream)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "echo: as"
    raw = await aoai.chat.completions.with_raw_response.create(model=GPT, messages=user("r"))
    assert raw.parse().choices[0].message.content == "echo: r"
    async with aoai.chat.completions.with_streaming_response.create(
        model=GPT, messages=user("sr")
    ) as response:
        assert json.loads(await response.read())["choices"][0]["message"]["content"] == "echo: sr"
    async with aoai.chat.completions.stream(model=GPT, messages=user("h")) as helper:
        final = await helper.get_final_completion()
    assert final.choices[0].message.content == "echo: h"
    assert len(sdk_project.receipts()) == 5 and fake_provider.count(CHAT) == 5
    assert {a["tool_name"] for a in _actions(sdk_project)} == {"chat.completions.create"}


async def test_async_refusals_never_reach_the_provider(sdk_project, aoai, fake_provider):
    with pytest.raises(heso.BlockedError):
        await aoai.chat.completions.create(model="forbidden-model", messages=user("x"))
    with pytest.raises(heso.SuspendedError):
        await aoai.with_raw_response.chat.completions.create(
            model="review-model", messages=user("x")
        )
    with pytest.raises(heso.BlockedError):
        async with aoai.chat.completions.with_streaming_response.create(
            model="forbidden-model", messages=user("x")
        ):
            pass
    with pytest.raises(heso.BlockedError):
        async with aoai.chat.completions.stream(model="forbidden-model", messages=user("x")):
            pass
    assert fake_provider.count() == 0 and len(sdk_project.receipts()) == 4


async def test_async_calls_gate_when_awaited_and_leave_no_stray_coroutine(
    sdk_project, aoai, fake_provider
):
    pending = aoai.chat.completions.create(model="forbidden-model", messages=user("x"))
    assert sdk_project.receipts() == []  # nothing happens until awaited, as with the client
    results = await asyncio.gather(
        aoai.chat.completions.create(model=GPT, messages=user("ok")),
        pending,
        return_exceptions=True,
    )
    assert results[0].choices[0].message.content == "echo: ok"
    assert isinstance(results[1], heso.BlockedError)
    assert fake_provider.count(CHAT) == 1


# -- transparency --------------------------------------------------------------------------


def test_proxy_is_transparent(sdk_project, fake_provider):
    raw = openai.OpenAI(api_key="test", base_url=fake_provider.openai_base_url, max_retries=0)
    client = heso.wrap(raw)
    assert isinstance(client, openai.OpenAI)
    assert client.api_key == "test" and client.max_retries == 0
    assert str(client.base_url) == str(raw.base_url)
    assert heso.wrap(client) is client
    assert unwrap(client) is raw
    assert inspect.signature(client.chat.completions.create) == inspect.signature(
        raw.chat.completions.create
    )
    assert client.chat is client.chat  # resources are cached, not rebuilt per access
    assert "chat" in dir(client) and repr(raw) in repr(client)
    client.max_retries = 1
    assert raw.max_retries == 1
    with client as entered:
        assert entered is client
    assert raw.is_closed()


def test_copies_stay_wrapped(sdk_project, oai, fake_provider):
    for copy in (oai.with_options(timeout=5), oai.copy(max_retries=0)):
        assert isinstance(copy, openai.OpenAI)
        with pytest.raises(heso.BlockedError):
            copy.chat.completions.create(model="forbidden-model", messages=user("x"))
    assert fake_provider.count() == 0


def test_reads_are_gated_too(sdk_project, oai, fake_provider):
    models = oai.models.list()
    assert [m.id for m in models.data][:1] == ["gpt-4o-mini"]
    assert oai.models.retrieve("gpt-4.1").id == "gpt-4.1"
    assert [(a["verb"], a["fields"]["path"]) for a in _actions(sdk_project)] == [
        ("http_request", "/v1/models"),
        ("http_request", "/v1/models/gpt-4.1"),
    ]


def test_low_level_http_methods_are_gated_as_the_request_they_send(sdk_project, oai, fake_provider):
    page = oai.get("/models", cast_to=object)
    assert page["object"] == "list"
    (action,) = _actions(sdk_project)
    url = f"{fake_provider.openai_base_url}/models"
    assert (action["verb"], action["tool_name"]) == ("http_request", url)
    assert action["fields"] == {"method": "GET", "url": url, "path": "/v1/models"}


# -- fields --------------------------------------------------------------------------------


def test_omitted_arguments_are_dropped_and_iterators_are_sent_intact(
    sdk_project, oai, fake_provider
):
    messages = iter(user("from an iterator"))
    completion = oai.chat.completions.create(
        model=GPT, messages=messages, temperature=openai.NOT_GIVEN, user=openai.omit
    )
    assert completion.choices[0].message.content == "echo: from an iterator"
    assert fake_provider.last_request.body["messages"] == user("from an iterator")
    assert _actions(sdk_project)[0]["fields"] == {
        "model": GPT,
        "messages": user("from an iterator"),
    }


def test_numeric_keys_and_uploads_are_recorded_as_sent(sdk_project, oai, fake_provider, tmp_path):
    import blake3

    oai.chat.completions.create(model=GPT, messages=user("k"), logit_bias={50256: -100})
    assert fake_provider.last_request.body["logit_bias"] == {"50256": -100}
    upload = tmp_path / "notes.txt"
    upload.write_bytes(b"hello")
    with upload.open("rb") as handle:
        assert oai.files.create(file=handle, purpose="assistants").bytes == 5
    assert oai.files.create(file=("a.txt", b"hello!"), purpose="batch").filename == "a.txt"
    first, second, third = _actions(sdk_project)
    assert first["fields"]["logit_bias"] == {"50256": -100}
    assert (second["verb"], second["fields"]["path"]) == ("http_request", "/v1/files")
    assert second["fields"]["body"] == {
        "purpose": "assistants",
        "file": {
            "filename": "notes.txt",
            "content_type": "text/plain",
            "bytes": 5,
            "blake3": blake3.blake3(b"hello").hexdigest(),
        },
    }
    assert third["fields"]["body"]["file"]["blake3"] == blake3.blake3(b"hello!").hexdigest()
    assert third["fields"]["body"]["purpose"] == "batch"


def test_messages_can_be_redacted_by_wrap_or_step(sdk_project, fake_provider):
    client = heso.wrap(
        openai.OpenAI(api_key="t", base_url=fake_provider.openai_base_url, max_retries=0),
        redact=["messages"],
    )
    assert client.chat.completions.create(model=GPT, messages=user("secret one")).choices
    plain = heso.wrap(
        openai.OpenAI(api_key="t", base_url=fake_provider.openai_base_url, max_retries=0)
    )
    with heso.step(redact=["messages"]):
        plain.chat.completions.create(model=GPT, messages=user("secret two"))
    plain.chat.completions.create(model=GPT, messages=user("visible"))
    text = json.dumps(sdk_project.receipts())
    assert "secret one" not in text and "secret two" not in text and "visible" in text
    first, second, _ = _actions(sdk_project)
    assert first["fields"]["messages"]["heso_redacted"] and first["fields"]["model"] == GPT
    assert second["fields"]["messages"]["heso_redacted"]
    assert fake_provider.requests[0].body["messages"] == user("secret one")


def test_policy_sees_redacted_fields(sdk_project, fake_provider):
    client = heso.wrap(
        openai.OpenAI(api_key="t", base_url=fake_provider.openai_base_url, max_retries=0),
        redact=["model"],
    )
    with pytest.raises(heso.BlockedError):
        client.chat.completions.create(model="forbidden-model", messages=user("x"))
    (receipt,) = sdk_project.receipts()
    assert receipt["content"]["action"]["fields"]["model"]["heso_redacted"]
    assert receipt["content"]["policy"]["rule_id"] == "no-forbidden-model"
    assert fake_provider.count() == 0
