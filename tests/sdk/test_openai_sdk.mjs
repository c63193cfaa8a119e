// Drives a running Switchyard with the official `openai` Node SDK, unchanged: only the base URL
// and the key are set. Started by the Rust test `sdk::official_node_sdk_on_every_kind`
// (tests/proxy/sdk.rs): `chat-<kind>` and `embed-<kind>` are served by a mock of that kind,
// scripted with the replies checked below.
import assert from "node:assert/strict";
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: `${process.env.SWITCHYARD_BASE_URL}/v1`,
  apiKey: process.env.SWITCHYARD_KEY,
  maxRetries: 0,
});
const messages = [{ role: "user", content: "hi" }];

for (const kind of process.env.SWITCHYARD_CHAT_KINDS.split(",")) {
  const model = `chat-${kind}`;
  const completion = await client.chat.completions.create({ model, messages });
  assert.equal(completion.choices[0].message.content, "sdk plain", kind);
  const stream = await client.chat.completions.create({
    model,
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let usage = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    usage = chunk.usage ?? usage;
  }
  assert.equal(text, "sdk streamed", kind);
  assert.ok(usage.completion_tokens > 0, kind);
  console.log(`ok chat ${kind}`);
}

for (const kind of process.env.SWITCHYARD_EMBED_KINDS.split(",")) {
  // The SDK asks for base64 by default and decodes it.
  const result = await client.embeddings.create({ model: `embed-${kind}`, input: ["first", "second"] });
  assert.deepEqual(
    result.data.map((d) => d.embedding),
    [
      [0.25, 0.5, 0.75],
      [1.25, 1.5, 1.75],
    ],
    kind,
  );
  console.log(`ok embeddings ${kind}`);
}
console.log("ok node");
