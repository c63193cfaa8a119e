"""Embeddings with the official `openai` Python SDK, unchanged but for base URL and key, through
a target of every provider kind that has embeddings. Started by the Rust test
`sdk::official_python_sdk_embeddings_on_every_kind` (tests/proxy/sdk.rs): `embed-<kind>` is served
by a mock of that kind, whose vector for input i is [i + 0.25, i + 0.5, i + 0.75]."""

import os
import sys

import openai

client = openai.OpenAI(
    base_url=os.environ["SWITCHYARD_BASE_URL"] + "/v1",
    api_key=os.environ["SWITCHYARD_KEY"],
    max_retries=0,
)
EXPECTED = [[0.25, 0.5, 0.75], [1.25, 1.5, 1.75]]

for kind in os.environ["SWITCHYARD_EMBED_KINDS"].split(","):
    model = f"embed-{kind}"
    # The SDK asks for base64 by default and decodes it.
    default = client.embeddings.create(model=model, input=["first", "second"])
    assert [d.embedding for d in default.data] == EXPECTED, (kind, default)
    assert default.usage.prompt_tokens > 0, (kind, default)
    floats = client.embeddings.create(model=model, input="first", encoding_format="float")
    assert floats.data[0].embedding == EXPECTED[0], (kind, floats)
    print(f"ok embeddings {kind}")

try:
    client.embeddings.create(model="chat-openai", input="x")
    raise AssertionError("a model without the embeddings capability embedded")
except openai.BadRequestError as e:
    assert e.code == "capability_not_supported", e
print("ok capability")
sys.exit(0)
