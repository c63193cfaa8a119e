// A small OpenAI-compatible upstream for browser tests, speaking the real wire format
// (`POST {base}/v1/chat/completions`, JSON or SSE with usage). The first path segment chooses
// its behaviour: `/ok/...` always answers, `/flaky/...` answers 500 to every third request.
import * as http from "node:http";
import { AddressInfo } from "node:net";

export class MockOpenAI {
  private server?: http.Server;
  private count = 0;
  port = 0;

  url(behaviour: "ok" | "flaky"): string {
    return `http://127.0.0.1:${this.port}/${behaviour}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server!.address() as AddressInfo).port;
  }

  /** Closes the kept-alive connections too (Switchyard's client pools them). */
  async stop(): Promise<void> {
    const closed = new Promise((resolve) => this.server?.close(resolve));
    this.server?.closeAllConnections();
    await closed;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const [, behaviour, ...rest] = (req.url ?? "").split("/");
      const path = "/" + rest.join("/");
      if (path === "/v1/models") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ object: "list", data: [{ id: "gpt-4o", object: "model" }] }));
        return;
      }
      if (req.method !== "POST" || path !== "/v1/chat/completions") {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `no route ${path}`, type: "invalid_request_error" } }));
        return;
      }
      this.count += 1;
      if (behaviour === "flaky" && this.count % 3 === 0) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: "upstream overloaded", type: "server_error" } }));
        return;
      }
      const request = JSON.parse(body || "{}");
      const usage = { prompt_tokens: 900 + (this.count % 7) * 50, completion_tokens: 300 + (this.count % 5) * 40 };
      const total = { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens };
      const id = `chatcmpl-mock-${this.count}`;
      const created = Math.floor(Date.now() / 1000);
      // Latency varies so the latency chart has a shape.
      const delay = 20 + ((this.count * 37) % 180);
      setTimeout(() => {
        if (request.stream) {
          res.writeHead(200, { "content-type": "text/event-stream" });
          const chunk = (delta: object, finish: string | null, extra: object = {}) =>
            `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: request.model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
          res.write(chunk({ role: "assistant", content: "Hello" }, null));
          res.write(chunk({ content: " there" }, "stop"));
          res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: request.model, choices: [], usage: total })}\n\n`);
          res.end("data: [DONE]\n\n");
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            id,
            object: "chat.completion",
            created,
            model: request.model,
            choices: [{ index: 0, message: { role: "assistant", content: "Hello there" }, finish_reason: "stop" }],
            usage: total,
          }),
        );
      }, delay);
    });
  }
}
