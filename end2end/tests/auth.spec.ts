import { ADMIN, createFirstAdmin, expect, expectHydrated, signIn, signOut, test } from "./fixtures";

test("first admin is created with the setup link, then lands on the dashboard", async ({ page, server }) => {
  // Without a user, the app sends visitors to setup; without the token it explains what to do.
  await page.goto(server.url);
  await expect(page).toHaveURL(/\/setup$/);
  await expect(page.getByText("Open the setup link")).toBeVisible();

  await createFirstAdmin(page, server);
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  for (const item of ["Dashboard", "Models", "Accounts", "Policies", "Keys", "Users", "Alerts"]) {
    await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: item })).toBeVisible();
  }
});

test("a wrong password is refused with a clear message; sign-in and sign-out work", async ({ page, server }) => {
  await createFirstAdmin(page, server);
  await signOut(page);

  await expectHydrated(page);
  await page.fill("#username", ADMIN.username);
  await page.fill("#password", "not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("login-error")).toHaveText("Wrong user name or password.");
  await expect(page).toHaveURL(/\/login$/);

  await signIn(page, server, ADMIN.username, ADMIN.password);
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  await signOut(page);
  // Signed out for real: a page load goes back to the login page.
  await page.goto(`${server.url}/users`);
  await expect(page).toHaveURL(/\/login$/);
});

test("a session survives a server restart", async ({ page, server }) => {
  await createFirstAdmin(page, server);
  await server.stop();
  await server.start();
  await page.goto(`${server.url}/users`);
  await expect(page).toHaveURL(/\/users$/);
  await expect(page.getByTestId("signed-in-user")).toContainText(ADMIN.username);
  await expect(page.getByTestId("users-table")).toContainText(ADMIN.username);
});
