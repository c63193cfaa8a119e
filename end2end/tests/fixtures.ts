import { expect, Page, test as base } from "@playwright/test";
import { Server, SETUP_TOKEN } from "./server";

export const ADMIN = { username: "admin", password: "admin-password-1" };

/** A fresh server per test, shut down afterwards. */
export const test = base.extend<{ server: Server }>({
  server: async ({}, use) => {
    const server = new Server();
    await server.start();
    await use(server);
    await server.dispose();
  },
});
export { expect };

/**
 * Waits until the page is hydrated: the password toggle only works once the wasm bundle
 * has taken over the server-rendered HTML. A build whose wasm never hydrates fails here.
 */
export async function expectHydrated(page: Page): Promise<void> {
  const password = page.locator("#password");
  const toggle = page.getByTestId("toggle-password");
  await expect(async () => {
    const before = await password.getAttribute("type");
    await toggle.click();
    expect(await password.getAttribute("type")).not.toBe(before);
  }).toPass({ timeout: 20_000 });
  if ((await password.getAttribute("type")) === "text") await toggle.click();
  await expect(password).toHaveAttribute("type", "password");
}

export async function createFirstAdmin(page: Page, server: Server): Promise<void> {
  await page.goto(`${server.url}/setup?token=${SETUP_TOKEN}`);
  await expectHydrated(page);
  await page.fill("#username", ADMIN.username);
  await page.fill("#password", ADMIN.password);
  await page.getByRole("button", { name: "Create admin and sign in" }).click();
  await expect(page.getByTestId("signed-in-user")).toContainText(ADMIN.username);
}

export async function signIn(page: Page, server: Server, username: string, password: string): Promise<void> {
  await page.goto(`${server.url}/login`);
  await expectHydrated(page);
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-user")).toContainText(username);
}

export async function signOut(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
}
