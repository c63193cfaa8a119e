import { createFirstAdmin, expect, test } from "./fixtures";

test("the Alerts page says no alert has been raised, and an admin sets the webhook", async ({ page, server }) => {
  await createFirstAdmin(page, server);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Alerts" }).click();
  await expect(page.getByTestId("alerts-empty")).toContainText("No alert has been raised.");
  await expect(page.getByTestId("alerts-table")).toHaveCount(0);
  // No budget alert this month: no banner.
  await expect(page.getByTestId("budget-banner")).toHaveCount(0);

  // The browser accepts any URL; the server only http(s).
  await page.fill("#webhook-url", "ftp://example.com/hook");
  await page.getByRole("button", { name: "Save webhook" }).click();
  await expect(page.getByTestId("webhook-error")).toContainText("http:// or https://");

  await page.fill("#webhook-url", "https://hooks.example.com/switchyard");
  await page.getByRole("button", { name: "Save webhook" }).click();
  await expect(page.getByText("Webhook saved")).toBeVisible();
  await page.reload();
  await expect(page.locator("#webhook-url")).toHaveValue("https://hooks.example.com/switchyard");
});
