// The Dashboard moves with real traffic: requests go through the proxy to a mock upstream
// speaking OpenAI's wire format, and the open page shows them without a reload, also after the
// server restarts. With SWITCHYARD_SCREENSHOTS=1 it also saves the README's screenshots.
import * as fs from "node:fs";
import * as path from "node:path";
import { expect, Page } from "@playwright/test";
import { ADMIN, signIn, test } from "./fixtures";
import { MockOpenAI } from "./mock-openai";
import { Server } from "./server";

const KEY = "sk-sy-e2e-dashboard-0123456789abcdef";
const docs = path.resolve(__dirname, "..", "..", "docs");

/** A config file with two accounts on the mock (one flaky), two models, two policies, a key. */
function configure(server: Server, mock: MockOpenAI): void {
  const file = path.join(server.dataDir, "switchyard.yaml");
  fs.writeFileSync(
    file,
    `admin: { username: ${ADMIN.username}, password: ${ADMIN.password} }
accounts:
  - { name: openai-main, kind: openai, api_key: sk-mock, base_url: "${mock.url("ok")}", monthly_budget_usd: 0.6, alert_thresholds: [50, 80, 100] }
  - { name: openai-flaky, kind: openai, api_key: sk-mock, base_url: "${mock.url("flaky")}", monthly_budget_usd: 2 }
models:
  - { name: primary-llm, capabilities: [streaming], targets: [ { account: openai-flaky, model: gpt-4o }, { account: openai-main, model: gpt-4o } ] }
  - { name: fast-llm, capabilities: [streaming], targets: [ { account: openai-main, model: gpt-4o-mini } ] }
policies:
  - { name: classification, priority: 20, match: { purposes: [classification] }, route: [fast-llm, primary-llm] }
  - { name: chat-default, priority: 10, match: {}, route: [primary-llm] }
keys:
  - { name: web-app, key: ${KEY} }
`,
  );
  server.env = { SWITCHYARD_CONFIG: file };
}

async function send(server: Server, count: number, options: { model?: string; purpose?: string; stream?: boolean } = {}): Promise<void> {
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${KEY}`,
        "content-type": "application/json",
        ...(options.purpose ? { "x-switchyard-purpose": options.purpose } : {}),
      },
      body: JSON.stringify({
        model: options.model ?? "primary-llm",
        messages: [{ role: "user", content: `hello ${i}` }],
        stream: options.stream ?? false,
      }),
    });
    expect(response.status).toBe(200);
    await response.text();
  }
}

async function totalRequests(page: Page): Promise<number> {
  const text = (await page.getByTestId("total-requests").locator(".stat-value").textContent()) ?? "";
  return Number(text.replace(/[^0-9.]/g, ""));
}

test.describe("dashboard", () => {
  let mock: MockOpenAI;
  test.beforeEach(async () => {
    mock = new MockOpenAI();
    await mock.start();
  });
  test.afterEach(async () => {
    await mock.stop();
  });

  test("a total and a chart change without a reload, and again after a server restart", async ({ page, server }) => {
    configure(server, mock);
    await server.stop();
    await server.start();
    await signIn(page, server, ADMIN.username, ADMIN.password);
    await page.goto(`${server.url}/?window=15m`);
    await expect(page.getByTestId("empty-state")).toContainText("curl");
    expect(await totalRequests(page)).toBe(0);
    await expect(page.getByTestId("chart-traffic").locator("rect.chart-bar")).toHaveCount(0);
    // Marks the document: a reload would lose it.
    await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));

    await send(server, 5);
    await expect.poll(() => totalRequests(page), { timeout: 5_000 }).toBe(5);
    await expect(page.getByTestId("chart-traffic").locator("rect.chart-bar").first()).toBeVisible();
    await expect(page.getByTestId("empty-state")).toHaveCount(0);

    await server.stop();
    await server.start();
    await send(server, 3);
    await expect.poll(() => totalRequests(page), { timeout: 20_000 }).toBe(8);
    expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(true);
  });

  test("screenshots for the README", async ({ page, server }) => {
    test.skip(!process.env.SWITCHYARD_SCREENSHOTS, "set SWITCHYARD_SCREENSHOTS=1 to refresh docs/*.png");
    configure(server, mock);
    await server.stop();
    await server.start();
    await send(server, 30);
    await send(server, 12, { model: "fast-llm", purpose: "classification" });
    await send(server, 8, { stream: true });
    await signIn(page, server, ADMIN.username, ADMIN.password);
    await page.setViewportSize({ width: 1440, height: 1000 });
    const shots: [string, string][] = [
      ["/?window=15m", "dashboard.png"],
      ["/accounts/openai-main?window=15m", "account.png"],
      ["/policies", "policies.png"],
      ["/requests", "request-log.png"],
    ];
    for (const [address, file] of shots) {
      await page.goto(`${server.url}${address}`);
      // Hydrated and one tick of the live stream in.
      await page.waitForTimeout(2500);
      if (file === "request-log.png") {
        // A request that fell back, opened by its time cell (the others hold links).
        const fellBack = page.locator(".log-row", { has: page.locator("td.num", { hasText: /^2$/ }) }).first();
        await fellBack.locator("td").first().click();
        await expect(page.getByTestId("log-detail")).toBeVisible();
      }
      await page.screenshot({ path: path.join(docs, file), fullPage: file !== "request-log.png" });
    }
  });
});
