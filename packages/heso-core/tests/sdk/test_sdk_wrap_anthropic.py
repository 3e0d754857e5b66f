"""heso.wrap with the real anthropic client against the local fake provider."""

from __future__ import annotations

import json

import anthropic
import pytest

import heso

MESSAGES = "/v1/messages"
CLAUDE = "claude-sonnet-4-5"


def user(text):
    return [{"role": "user", "content": text}]


def _actions(project):
    return [r["content"]["action"] for r in project.receipts()]


def test_messages_create_is_gated_and_returns_the_real_message(sdk_project, ant, fake_provider):
    message = ant.messages.create(model=CLAUDE, max_tokens=64, messages=user("hi"))
    assert isinstance(message, anthropic.types.Message)
    assert message.content[0].text == "echo: hi"
    assert fake_provider.count(MESSAGES) == 1
    (action,) = _actions(sdk_project)
    assert (action["verb"], action["tool_name"]) == ("llm_call", "messages.create")
    assert action["fields"] == {"model": CLAUDE, "max_tokens": 64, "messages": user("hi")}


def test_stream_true_and_the_stream_helper(sdk_project, ant, fake_provider):
    stream = ant.messages.create(model=CLAUDE, max_tokens=64, messages=user("a b"), stream=True)
    assert isinstance(stream, anthropic.Stream)
    text = "".join(e.delta.text for e in stream if e.type == "content_block_delta")
    assert text == "echo: a b"
    with ant.messages.stream(model=CLAUDE, max_tokens=64, messages=user("c d")) as helper:
        assert "".join(helper.text_stream) == "echo: c d"
    assert [a["tool_name"] for a in _actions(sdk_project)] == ["messages.create"] * 2
    assert [a["fields"] for a in _actions(sdk_project)] == [r.body for r in fake_provider.requests]
    assert fake_provider.count(MESSAGES) == 2


def test_raw_and_streaming_responses(sdk_project, ant, fake_provider):
    raw = ant.messages.with_raw_response.create(model=CLAUDE, max_tokens=8, messages=user("r"))
    assert raw.headers["request-id"].startswith("req_fake_")
    assert raw.parse().content[0].text == "echo: r"
    raw2 = ant.with_raw_response.messages.create(model=CLAUDE, max_tokens=8, messages=user("q"))
    assert raw2.parse().content[0].text == "echo: q"
    with ant.messages.with_streaming_response.create(
        model=CLAUDE, max_tokens=8, messages=user("s")
    ) as response:
        assert json.loads(response.read())["content"][0]["text"] == "echo: s"
    assert [a["tool_name"] for a in _actions(sdk_project)] == ["messages.create"] * 3


def test_refusals_never_reach_the_provider(sdk_project, ant, fake_provider):
    with pytest.raises(heso.BlockedError):
        ant.messages.create(model="forbidden-model", max_tokens=8, messages=user("x"))
    with pytest.raises(heso.BlockedError):
        with ant.messages.stream(model="forbidden-model", max_tokens=8, messages=user("x")):
            pass
    with pytest.raises(heso.SuspendedError) as err:
        ant.with_raw_response.messages.create(
            model="review-model", max_tokens=8, messages=user("x")
        )
    assert err.value.rule_id == "review-model"
    with pytest.raises(heso.BlockedError):
        with ant.messages.with_streaming_response.create(
            model="forbidden-model", max_tokens=8, messages=user("x")
        ):
            pass
    assert fake_provider.count() == 0
    assert len(sdk_project.receipts()) == 4


def test_provider_errors_are_the_providers_own(sdk_project, ant, fake_provider):
    fake_provider.fail_next(529)
    with pytest.raises(anthropic.APIStatusError) as err:
        ant.messages.create(model=CLAUDE, max_tokens=8, messages=user("x"))
    assert err.value.status_code == 529


def test_isinstance_context_manager_and_close(sdk_project, fake_provider):
    raw = anthropic.Anthropic(api_key="t", base_url=fake_provider.anthropic_base_url)
    client = heso.wrap(raw)
    assert isinstance(client, anthropic.Anthropic)
    assert client.api_key == "t"
    with client as entered:
        assert entered is client
    assert raw.is_closed()
    other = heso.wrap(anthropic.Anthropic(api_key="t", base_url=fake_provider.anthropic_base_url))
    other.close()


async def test_async_client(sdk_project, aant, fake_provider):
    message = await aant.messages.create(model=CLAUDE, max_tokens=8, messages=user("async"))
    assert message.content[0].text == "echo: async"
    stream = await aant.messages.create(
        model=CLAUDE, max_tokens=8, messages=user("as"), stream=True
    )
    assert isinstance(stream, anthropic.AsyncStream)
    parts = [e.delta.text async for e in stream if e.type == "content_block_delta"]
    assert "".join(parts) == "echo: as"
    async with aant.messages.stream(model=CLAUDE, max_tokens=8, messages=user("h")) as helper:
        final = await helper.get_final_message()
    assert final.content[0].text == "echo: h"
    raw = await aant.messages.with_raw_response.create(
        model=CLAUDE, max_tokens=8, messages=user("r")
    )
    assert (await raw.parse()).content[0].text == "echo: r"
    async with aant.messages.with_streaming_response.create(
        model=CLAUDE, max_tokens=8, messages=user("sr")
    ) as response:
        assert json.loads(await response.read())["content"][0]["text"] == "echo: sr"
    assert fake_provider.count(MESSAGES) == 5
    assert [a["tool_name"] for a in _actions(sdk_project)] == ["messages.create"] * 5


async def test_async_refusals_never_reach_the_provider(sdk_project, aant, fake_provider):
    with pytest.raises(heso.BlockedError):
        await aant.messages.create(model="forbidden-model", max_tokens=8, messages=user("x"))
    with pytest.raises(heso.SuspendedError):
        async with aant.messages.stream(model="review-model", max_tokens=8, messages=user("x")):
            pass
    with pytest.raises(heso.BlockedError):
        await aant.with_raw_response.messages.create(
            model="forbidden-model", max_tokens=8, messages=user("x")
        )
    assert fake_provider.count() == 0
