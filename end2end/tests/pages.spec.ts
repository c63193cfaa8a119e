// Every dashboard page with a realistic configuration loaded from a config file: no serious
// accessibility violation (axe-core), and a screenshot compared with the committed baseline so
// a layout regression fails (tolerant thresholds: fonts and anti-aliasing differ slightly).
import AxeBuilder from "@axe-core/playwright";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Page } from "@playwright/test";
import { expect, signIn, test as base } from "./fixtures";
import { Server } from "./server";

const CONFIG = `
admin: { username: admin, password: admin-password-1 }
accounts:
  - { name: openai-main, kind: openai, api_key: sk-e2e-openai-0001, base_url: "http://127.0.0.1:9",
      rpm_limit: 500, tpm_limit: 200000, monthly_budget_usd: 1000 }
  - { name: openai-backup, kind: openai, api_key: sk-e2e-openai-0002, base_url: "http://127.0.0.1:9", rpm_limit: 100 }
  - { name: claude, kind: anthropic, api_key: sk-e2e-anthropic-0003, base_url: "http://127.0.0.1:9",
      monthly_budget_usd: 250, soft_budget: true }
  - { name: gemini, kind: google, api_key: sk-e2e-google-0004, base_url: "http://127.0.0.1:9" }
  - { name: azure-eu, kind: azure, endpoint: "https://eu.example.invalid", api_version: 2024-10-21,
      api_key: sk-e2e-azure-0005, deployments: { gpt-4o: gpt4o-prod } }
models:
  - name: primary-llm
    description: General chat with tools
    capabilities: [streaming, tools, vision, json_mode]
    defaults: { temperature: 0.2, max_tokens: 1024 }
    targets: [ { account: openai-main, model: gpt-4o }, { account: claude, model: claude-sonnet-4-5 },
               { account: azure-eu, model: gpt-4o } ]
  - name: fast-llm
    capabilities: [streaming, json_mode]
    defaults: { max_tokens: 256 }
    targets: [ { account: openai-backup, model: gpt-4o-mini }, { account: gemini, model: gemini-2.0-flash } ]
    cache: { ttl_seconds: 600, scope: shared }
  - name: summarizer
    capabilities: [streaming]
    targets: [ { account: claude, model: claude-haiku-4-5 } ]
  - name: embed-llm
    description: Embeddings for retrieval
    capabilities: [embeddings]
    targets: [ { account: openai-main, model: text-embedding-3-small }, { account: gemini, model: gemini-embedding-001 } ]
policies:
  - name: cheap-classification
    priority: 100
    match: { step_types: [inference], purposes: [classification] }
    route: [fast-llm, primary-llm]
    circuit_breaker: { failure_threshold: 5, recovery_seconds: 30 }
  - name: extraction-via-primary
    priority: 10
    match: { step_types: [extraction], logical_models: [fast-llm] }
    route: [primary-llm]
  - name: summarizer-canary
    priority: 50
    match: { purposes: [summarization] }
    split: [ { route: [summarizer, primary-llm], weight: 90 }, { route: [fast-llm, primary-llm], weight: 10 } ]
keys:
  - { name: ci-app, models: [primary-llm], team: ml-platform, rpm_limit: 60, monthly_budget_usd: 50 }
  - { name: batch-jobs, models: [fast-llm, summarizer], team: data, tpm_limit: 200000,
      monthly_budget_usd: 200, soft_budget: true }
prices:
  - { kind: openai, model: gpt-4o-mini, input_per_mtok_usd: 0.15, output_per_mtok_usd: 0.6 }
`;

const PAGES = [
  ["dashboard", "/"],
  ["models", "/models"],
  ["accounts", "/accounts"],
  ["policies", "/policies"],
  ["keys", "/keys"],
  ["prices", "/prices"],
  ["users", "/users"],
  ["alerts", "/alerts"],
  ["audit", "/audit"],
] as const;

/** A server started with the configuration above, probes off so health stays as configured. */
const test = base.extend<{ server: Server }>({
  server: async ({}, use) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "switchyard-config-"));
    const file = path.join(dir, "switchyard.yaml");
    fs.writeFileSync(file, CONFIG);
    const server = new Server({ SWITCHYARD_CONFIG: file, SWITCHYARD_PROBE_INTERVAL_SECS: "0" });
    await server.start();
    await use(server);
    await server.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  },
});

async function open(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForLoadState("networkidle");
}

/** Serious and critical axe findings only, named with their nodes for a readable failure. */
async function seriousViolations(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

/** What changes from run to run: relative times and generated keys' last characters. */
const VOLATILE = (page: Page) => [page.locator("time"), page.locator(".key-tail")];

/** A dashboard server function called with the page's session. */
async function api(page: Page, server: Server, name: string, data: object): Promise<void> {
  const response = await page.request.post(`${server.url}/api/${name}`, {
    headers: { "content-type": "application/json", origin: server.url },
    data,
  });
  expect(response.status(), await response.text()).toBe(200);
}

async function onlyAdminChanges(page: Page): Promise<void> {
  await page.getByLabel("Who").selectOption("admin");
  await expect(page.getByTestId("audit-table").locator("tbody tr")).toHaveCount(3);
}

const SHOT = { fullPage: true, maxDiffPixelRatio: 0.02, animations: "disabled" } as const;

test("every page with data: no serious accessibility violation, and it looks as committed", async ({ page, server }) => {
  test.setTimeout(180_000);
  // 1280 px: every table must fit without scrolling sideways.
  await page.setViewportSize({ width: 1280, height: 900 });
  await open(page, `${server.url}/login`);
  expect(await seriousViolations(page)).toEqual([]);
  await signIn(page, server, "admin", "admin-password-1");
  // Changes one after another, so the audit log (shown filtered to them) has a stable order:
  // the config file's own entries share one instant.
  const price = (input: number) => ({ price: { kind: "openai", model: "o3-mini", input_per_mtok_usd: input, output_per_mtok_usd: 4.4 } });
  await api(page, server, "save_price", price(1.1));
  await api(page, server, "save_price", price(1.21));
  await api(page, server, "delete_price", { kind: "openai", model: "gpt-4o-mini" });

  for (const [name, url] of PAGES) {
    await open(page, `${server.url}${url}`);
    await expect(page.locator("h1")).toBeVisible();
    if (name === "audit") await onlyAdminChanges(page);
    expect(await seriousViolations(page), name).toEqual([]);
    const overflowing = await page.locator(".table-card").evaluateAll((cards) =>
      cards.filter((c) => c.scrollWidth > c.clientWidth + 1).length,
    );
    expect(overflowing, `${name}: tables wider than the page at 1280 px`).toBe(0);
    // The dashboard's live charts are compared by their own tests.
    if (name === "dashboard") continue;
    await expect(page).toHaveScreenshot(`${name}.png`, { ...SHOT, mask: VOLATILE(page) });
  }

  // An editor dialog: focus starts inside, stays inside, and Escape closes it.
  await open(page, `${server.url}/policies`);
  await page.getByRole("button", { name: "Add policy" }).click();
  const dialog = page.getByRole("dialog", { name: "Add a policy" });
  await expect(dialog).toBeVisible();
  expect(await seriousViolations(page), "policy dialog").toEqual([]);
  for (let i = 0; i < 30; i++) await page.keyboard.press("Tab");
  expect(await dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
  await expect(page).toHaveScreenshot("policy-dialog.png", { ...SHOT, fullPage: false });
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();

  // Delete names what depends on the account.
  await open(page, `${server.url}/accounts`);
  await page.locator('tr[data-name="claude"]').getByRole("button", { name: "Delete" }).click();
  await expect(page.getByTestId("dependents")).toContainText("logical model primary-llm targets it");
  await expect(page.getByTestId("dependents")).toContainText("logical model summarizer targets it");
  expect(await seriousViolations(page), "confirm dialog").toEqual([]);
  await page.keyboard.press("Escape");

  // Narrow window and the dark theme.
  await page.setViewportSize({ width: 768, height: 1000 });
  await open(page, `${server.url}/accounts`);
  await expect(page).toHaveScreenshot("accounts-768.png", { ...SHOT, mask: VOLATILE(page) });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.setViewportSize({ width: 1400, height: 900 });
  for (const [name, url] of [["models", "/models"], ["audit", "/audit"]] as const) {
    await open(page, `${server.url}${url}`);
    if (name === "audit") await onlyAdminChanges(page);
    expect(await seriousViolations(page), `${name} dark`).toEqual([]);
    await expect(page).toHaveScreenshot(`${name}-dark.png`, { ...SHOT, mask: VOLATILE(page) });
  }
});

test("the audit log pages by 25, filters by resource and shows what changed", async ({ page, server }) => {
  await signIn(page, server, "admin", "admin-password-1");
  // 30 price changes on top of the configuration's own entries.
  for (let i = 0; i < 30; i++) {
    await api(page, server, "save_price", {
      price: { kind: "openai", model: `m-${i}`, input_per_mtok_usd: 1, output_per_mtok_usd: 2 },
    });
  }
  await open(page, `${server.url}/audit`);
  const rows = page.getByTestId("audit-table").locator("tbody tr");
  await expect(rows).toHaveCount(25);
  await page.getByRole("button", { name: "Older →" }).click();
  await expect(page.getByText("Page 2")).toBeVisible();
  await expect(rows.first()).toBeVisible();
  await page.getByRole("button", { name: "← Newer" }).click();
  await expect(rows).toHaveCount(25);

  await page.getByLabel("Resource").selectOption("model");
  await expect(rows).toHaveCount(4);
  await expect(page.getByTestId("audit-table")).toContainText("create model primary-llm");
  await expect(page.getByTestId("audit-table")).toContainText("max_tokens");
  await expect(page.getByRole("button", { name: "Older →" })).toBeDisabled();
});
