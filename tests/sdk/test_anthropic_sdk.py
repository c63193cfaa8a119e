"""Drives a running Switchyard with the official `anthropic` Python SDK, unchanged: only the base
URL and the key are set, as Claude Code does with ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN.
Started by the Rust test `sdk::official_anthropic_python_sdk_on_every_kind` (tests/proxy/sdk.rs):
`chat-<kind>` is served by a mock of that kind scripted with the replies checked below."""

import os
import sys

import anthropic

BASE_URL = os.environ["SWITCHYARD_BASE_URL"]
KEY = os.environ["SWITCHYARD_KEY"]

# api_key travels as `x-api-key`, auth_token as `Authorization: Bearer`; both are gateway keys.
by_api_key = anthropic.Anthropic(base_url=BASE_URL, api_key=KEY, max_retries=0)
by_token = anthropic.Anthropic(base_url=BASE_URL, auth_token=KEY, api_key=None, max_retries=0)
messages = [{"role": "user", "content": "hi"}]
weather = {
    "name": "get_weather",
    "description": "Current weather of a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def check(kind):
    model = f"chat-{kind}"
    message = by_api_key.messages.create(
        model=model, max_tokens=64, system="Be brief.", messages=messages
    )
    assert message.content[0].text == "sdk plain", (kind, message)
    assert message.stop_reason == "end_turn", (kind, message)
    assert message.usage.output_tokens > 0, (kind, message)

    with by_token.messages.stream(model=model, max_tokens=64, messages=messages) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "sdk streamed", (kind, text)
    assert final.usage.output_tokens > 0, (kind, final)

    history = messages + [
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_prev", "name": "get_weather", "input": {"city": "Bergen"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_prev", "content": "rain"}]},
    ]
    called = by_api_key.messages.create(
        model=model, max_tokens=64, tools=[weather], messages=history
    )
    assert called.stop_reason == "tool_use", (kind, called)
    tool = next(block for block in called.content if block.type == "tool_use")
    assert tool.name == "get_weather" and tool.input == {"city": "Oslo"}, (kind, tool)
    print(f"ok messages {kind}")


def errors():
    try:
        by_api_key.messages.create(model="ghost-llm", max_tokens=8, messages=messages)
        raise AssertionError("unknown model accepted")
    except anthropic.NotFoundError as e:
        assert e.body["error"]["type"] == "not_found_error", e.body
    wrong = anthropic.Anthropic(base_url=BASE_URL, api_key="sk-sy-wrong", max_retries=0)
    try:
        wrong.messages.create(model="chat-anthropic", max_tokens=8, messages=messages)
        raise AssertionError("wrong key accepted")
    except anthropic.AuthenticationError:
        pass
    print("ok errors")


def count_tokens():
    exact = by_api_key.messages.count_tokens(model="chat-anthropic", messages=messages)
    assert exact.input_tokens == 21, exact
    estimated = by_api_key.messages.count_tokens(model="chat-openai", messages=messages)
    assert estimated.input_tokens > 0, estimated
    print("ok count_tokens")


for kind in os.environ["SWITCHYARD_CHAT_KINDS"].split(","):
    check(kind)
errors()
count_tokens()
sys.exit(0)
