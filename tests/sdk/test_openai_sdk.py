"""Drives a running Switchyard with the official `openai` Python SDK, unchanged: only the base
URL and the key are set. Started by the Rust test `sdk::official_python_sdk` (tests/proxy/sdk.rs),
which serves `primary-llm` from a mock provider scripted with the replies checked below."""

import json
import os
import sys

import openai

BASE_URL = os.environ["SWITCHYARD_BASE_URL"] + "/v1"
KEY = os.environ["SWITCHYARD_KEY"]

client = openai.OpenAI(base_url=BASE_URL, api_key=KEY, max_retries=0)
messages = [{"role": "user", "content": "hi"}]


def non_stream():
    raw = client.chat.completions.with_raw_response.create(model="primary-llm", messages=messages)
    assert raw.headers["x-switchyard-account"] == "main", raw.headers
    completion = raw.parse()
    assert completion.choices[0].message.content == "sdk plain", completion
    assert completion.usage.total_tokens > 0, completion


def stream():
    chunks = list(
        client.chat.completions.create(
            model="primary-llm",
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "sdk streamed", text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0, chunks[-1]


def tools():
    completion = client.chat.completions.create(
        model="primary-llm",
        messages=messages,
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather", call
    assert json.loads(call.function.arguments) == {"city": "Oslo"}, call


def errors():
    try:
        client.chat.completions.create(model="ghost-llm", messages=messages)
        raise AssertionError("unknown model accepted")
    except openai.NotFoundError as e:
        assert e.code == "model_not_found", e
    bad = openai.OpenAI(base_url=BASE_URL, api_key="sk-sy-wrong", max_retries=0)
    try:
        bad.chat.completions.create(model="primary-llm", messages=messages)
        raise AssertionError("wrong key accepted")
    except openai.AuthenticationError:
        pass


def models():
    ids = [m.id for m in client.models.list()]
    assert ids == ["primary-llm"], ids


for check in (non_stream, stream, tools, errors, models):
    check()
    print(f"ok {check.__name__}")
sys.exit(0)
