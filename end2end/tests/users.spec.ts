import { createFirstAdmin, expect, signIn, signOut, test } from "./fixtures";

test("an admin adds a viewer, who is refused the Users page and its server function", async ({ page, server }) => {
  await createFirstAdmin(page, server);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
  await expect(page.getByTestId("users-table")).toBeVisible();

  // A validation error shows at its field, and the form keeps what was typed.
  await page.getByRole("button", { name: "Add user" }).click();
  await page.fill("#new-username", "vera");
  await page.fill("#new-password", "short");
  await page.selectOption("#new-role", "viewer");
  await page.getByRole("button", { name: "Create user" }).click();
  await expect(page.getByTestId("password-error")).toContainText("at least 10 characters");
  await expect(page.locator("#new-username")).toHaveValue("vera");

  await page.fill("#new-password", "viewer-password");
  await page.getByRole("button", { name: "Create user" }).click();
  await expect(page.locator('tr[data-username="vera"]')).toContainText("viewer");

  await signOut(page);
  await signIn(page, server, "vera", "viewer-password");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
  await expect(page.getByTestId("load-error")).toContainText("needs the admin role");
  await expect(page.getByTestId("users-table")).toHaveCount(0);

  // Posting to the server function directly, with the viewer's session, is refused too.
  const direct = await page.request.post(`${server.url}/api/list_users`);
  expect(direct.status()).toBe(403);
  const create = await page.request.post(`${server.url}/api/create_user`, {
    form: { username: "mallory", password: "password-123", role: "admin" },
  });
  expect(create.status()).toBe(403);
});

test("an admin changes a role and disables an account", async ({ page, server }) => {
  await createFirstAdmin(page, server);
  await page.goto(`${server.url}/users`);
  await page.waitForLoadState("networkidle");
  await page.getByRole("button", { name: "Add user" }).click();
  await page.fill("#new-username", "ed");
  await page.fill("#new-password", "editor-password");
  await page.selectOption("#new-role", "viewer");
  await page.getByRole("button", { name: "Create user" }).click();
  const row = page.locator('tr[data-username="ed"]');
  await expect(row).toBeVisible();

  await row.getByLabel("Role of ed").selectOption("editor");
  await row.getByRole("button", { name: "Change role" }).click();
  await expect(row.getByLabel("Role of ed")).toHaveValue("editor");

  await row.getByRole("button", { name: "Disable" }).click();
  await expect(row).toContainText("disabled");
  await expect(row.getByRole("button", { name: "Enable" })).toBeVisible();
});
