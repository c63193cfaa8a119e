import { Page } from "@playwright/test";
import { createFirstAdmin, expect, signIn, signOut, test } from "./fixtures";

const PROVIDER_KEY = "sk-e2e-provider-secret-4321";

/** Loads a page and waits until its wasm has taken over (no request left in flight). */
async function open(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForLoadState("networkidle");
}

async function addAccount(page: Page, name: string, key?: string): Promise<void> {
  await page.getByRole("button", { name: "Add account" }).click();
  await page.fill("#account-name", name);
  await page.selectOption("#account-kind", "openai");
  await page.fill("#account-base-url", "http://127.0.0.1:9");
  if (key) await page.fill("#account-api-key", key);
  await page.getByRole("button", { name: "Save account" }).click();
  await expect(page.getByTestId("accounts-table")).toContainText(name);
}

test("configure accounts, a model with two targets, a policy and a key in the browser", async ({ page, server }) => {
  await createFirstAdmin(page, server);

  // Accounts: the key is write-only; the page shows only its last four characters.
  await open(page, `${server.url}/accounts`);
  await addAccount(page, "main", PROVIDER_KEY);
  await addAccount(page, "backup");
  const mainRow = page.getByTestId("accounts-table").locator('tr[data-name="main"]');
  await expect(mainRow).toContainText("…4321");
  expect(await page.content()).not.toContain(PROVIDER_KEY);

  // A logical model with two ordered targets.
  await open(page, `${server.url}/models`);
  await page.getByRole("button", { name: "Add logical model" }).click();
  await page.fill("#model-name", "primary-llm");
  const rows = page.getByTestId("target-row");
  await rows.nth(0).locator("select").selectOption("main");
  await rows.nth(0).getByLabel(/Provider model of target/).fill("gpt-4o");
  await rows.nth(0).getByLabel(/Provider model of target/).press("Tab");
  await page.getByRole("button", { name: "Add target" }).click();
  await rows.nth(1).locator("select").selectOption("backup");
  await rows.nth(1).getByLabel(/Provider model of target/).fill("gpt-4o-mini");
  await rows.nth(1).getByLabel(/Provider model of target/).press("Tab");

  // A validation error shows at its field, and the form keeps what was typed.
  await page.fill("#model-temperature", "5");
  await page.getByRole("button", { name: "Save model" }).click();
  await expect(page.locator('[data-field="defaults.temperature"]')).not.toBeEmpty();
  await expect(page.locator("#model-name")).toHaveValue("primary-llm");

  await page.fill("#model-temperature", "0.2");
  await page.getByRole("button", { name: "Save model" }).click();
  const models = page.getByTestId("models-table");
  await expect(models).toContainText("main/gpt-4o → backup/gpt-4o-mini");

  // Edit: reorder the targets.
  await models.locator('tr[data-name="primary-llm"]').getByRole("button", { name: "Edit" }).click();
  await expect(page.locator("#model-name")).toHaveValue("primary-llm");
  await rows.nth(1).getByRole("button", { name: "Move target 2 up" }).click();
  await page.getByRole("button", { name: "Save model" }).click();
  await expect(models).toContainText("backup/gpt-4o-mini → main/gpt-4o");

  // Load balancing: weighted 3:1 with one retry.
  await models.locator('tr[data-name="primary-llm"]').getByRole("button", { name: "Edit" }).click();
  await page.selectOption("#model-strategy", "weighted");
  await page.fill("#model-retries", "1");
  await rows.nth(1).getByLabel("Weight of target 2").fill("3");
  await page.getByRole("button", { name: "Save model" }).click();
  await expect(models).toContainText("backup/gpt-4o-mini ×1 · main/gpt-4o ×3");
  await expect(models.locator('tr[data-name="primary-llm"]')).toContainText("1 retry per target");

  // Create and delete a second model; deleting asks first.
  await page.getByRole("button", { name: "Add logical model" }).click();
  await page.fill("#model-name", "scratch");
  await rows.nth(0).locator("select").selectOption("main");
  await rows.nth(0).getByLabel(/Provider model of target/).fill("gpt-4o");
  await rows.nth(0).getByLabel(/Provider model of target/).press("Tab");
  await page.getByRole("button", { name: "Save model" }).click();
  await expect(models.locator('tr[data-name="scratch"]')).toBeVisible();
  await models.locator('tr[data-name="scratch"]').getByRole("button", { name: "Delete" }).click();
  const confirm = page.getByTestId("confirm-dialog");
  await expect(confirm).toContainText("Delete logical model scratch?");
  await confirm.getByRole("button", { name: "Delete", exact: true }).click();
  await expect(models.locator('tr[data-name="scratch"]')).toHaveCount(0);

  // A policy, then the tester names it.
  await open(page, `${server.url}/policies`);
  await page.getByRole("button", { name: "Add policy" }).click();
  await page.fill("#policy-name", "extract");
  await page.fill("#policy-priority", "10");
  await page.getByRole("checkbox", { name: "extraction" }).check();
  // The route is chosen from the known logical models, not typed.
  await page.getByTestId("policy-route").getByRole("button", { name: "+ primary-llm" }).click();
  await page.getByRole("button", { name: "Save policy" }).click();
  await expect(page.getByTestId("policies-table")).toContainText("extract");

  // The model a policy routes to names it when asked to delete.
  await open(page, `${server.url}/models`);
  await models.locator('tr[data-name="primary-llm"]').getByRole("button", { name: "Delete" }).click();
  await expect(page.getByTestId("dependents")).toContainText("policy extract");
  await expect(page.getByTestId("confirm-dialog").getByRole("button", { name: "Delete", exact: true })).toBeDisabled();
  await page.keyboard.press("Escape");
  await expect(page.getByTestId("confirm-dialog")).toBeHidden();

  await open(page, `${server.url}/policies`);
  await page.locator("#tester-step").selectOption("extraction");
  await page.locator("#tester-model").selectOption("primary-llm");
  await page.getByRole("button", { name: "Test", exact: true }).click();
  await expect(page.getByTestId("tester-result")).toContainText("extract");
  await expect(page.getByTestId("tester-result")).toContainText("backup/gpt-4o-mini");

  // A gateway key, shown once, then revoked.
  await open(page, `${server.url}/keys`);
  await page.getByRole("button", { name: "New key" }).click();
  await page.fill("#key-name", "app");
  const chooser = page.getByTestId("key-models");
  await chooser.getByLabel("Allowed logical models", { exact: true }).fill("primary");
  await chooser.getByRole("button", { name: "+ primary-llm" }).click();
  await page.getByTestId("key-form").getByRole("button", { name: "Create key" }).click();
  await expect(page.getByTestId("new-key")).toContainText("sk-sy-");
  const keyRow = page.getByTestId("keys-table").locator('tr[data-name="app"]');
  await expect(keyRow).toContainText("primary-llm");
  await keyRow.getByRole("button", { name: "Revoke" }).click();
  await page.getByTestId("confirm-dialog").getByRole("button", { name: "Revoke", exact: true }).click();
  await expect(keyRow).toContainText("revoked");

  // The audit log shows who did it, and never the key.
  await open(page, `${server.url}/audit`);
  await expect(page.getByTestId("audit-table")).toContainText("create account main");
  expect(await page.content()).not.toContain(PROVIDER_KEY);
});

test("a viewer sees no edit controls and the server refuses its writes", async ({ page, server }) => {
  await createFirstAdmin(page, server);
  await open(page, `${server.url}/users`);
  await page.getByRole("button", { name: "Add user" }).click();
  await page.fill("#new-username", "vera");
  await page.fill("#new-password", "viewer-password-1");
  await page.selectOption("#new-role", "viewer");
  await page.getByRole("button", { name: "Create user" }).click();
  await expect(page.getByTestId("users-table")).toContainText("vera");
  await signOut(page);
  await signIn(page, server, "vera", "viewer-password-1");

  for (const path of ["/models", "/accounts", "/policies", "/keys", "/prices"]) {
    await open(page, `${server.url}${path}`);
    await expect(page.locator("form[data-testid$='-form']")).toHaveCount(0);
    await expect(page.getByRole("button", { name: /^(Edit|Delete|Save|Revoke)/ })).toHaveCount(0);
  }
  const status = await page.evaluate(async () => {
    const response = await fetch("/api/save_price", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        price: { kind: "openai", model: "gpt-4o", input_per_mtok_usd: 0, output_per_mtok_usd: 0 },
      }),
    });
    return response.status;
  });
  expect(status).toBe(403);
});
