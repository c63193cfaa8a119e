// Single sign-on in the browser, through a real OpenID Connect provider: "Sign in with
// Test IdP", the provider's own login form, and back on the dashboard with the role of the
// person's groups; signing out offers the provider's sign-out too.
import AxeBuilder from "@axe-core/playwright";
import { Page } from "@playwright/test";
import { expect, expectHydrated, test as base } from "./fixtures";
import { IDP_PASSWORD, IdentityProvider } from "./identity-provider";
import { Server } from "./server";

const test = base.extend<{ idp: IdentityProvider; server: Server }>({
  idp: async ({}, use) => {
    const idp = await IdentityProvider.start();
    await use(idp);
    idp.dispose();
  },
  server: async ({ idp }, use) => {
    const server = new Server(idp.settings());
    await server.start();
    await use(server);
    await server.dispose();
  },
});

async function signInAtProvider(page: Page, login: string): Promise<void> {
  await expect(page.getByRole("heading", { name: "Test IdP sign-in" })).toBeVisible();
  await page.getByLabel("User name").fill(login);
  await page.getByLabel("Password").fill(IDP_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
}

test("people sign in through the identity provider and land with their groups' role", async ({ page, server }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${server.url}/login`);
  await expectHydrated(page);
  const ssoButton = page.getByRole("link", { name: "Sign in with Test IdP" });
  await expect(ssoButton).toBeVisible();
  const axe = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  expect(axe.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id)).toEqual([]);
  await expect(page).toHaveScreenshot("login-sso.png", { maxDiffPixelRatio: 0.02, animations: "disabled" });

  // grace is in ml: an editor.
  await ssoButton.click();
  await signInAtProvider(page, "grace");
  await expect(page).toHaveURL(`${server.url}/`);
  await expect(page.getByTestId("signed-in-user")).toContainText("grace");
  await expect(page.getByTestId("signed-in-user")).toContainText("editor");

  // Signing out here offers signing out at the provider too.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=sso$/);
  const providerSignOut = page.getByRole("link", { name: "Sign out of Test IdP too" });
  await expect(providerSignOut).toBeVisible();
  await providerSignOut.click();
  await page.getByRole("button", { name: "Yes, sign me out" }).click();
  await expect(page).toHaveURL(/\/login$/);

  // Signed out at the provider as well, so the next person sees its login form: ada, in ops.
  await page.getByRole("link", { name: "Sign in with Test IdP" }).click();
  await signInAtProvider(page, "ada");
  await expect(page.getByTestId("signed-in-user")).toContainText("ada");
  await expect(page.getByTestId("signed-in-user")).toContainText("admin");
  await page.goto(`${server.url}/users`);
  await expect(page.getByRole("cell", { name: "grace" })).toBeVisible();
});
