// A real OpenID Connect provider (end2end/oidc/provider.mjs, the certified oidc-provider
// package) for one test, on a free loopback port, and the settings that point Switchyard at it.
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";

export const IDP_PASSWORD = "idp-password";

export class IdentityProvider {
  private constructor(
    readonly issuer: string,
    private readonly process: ChildProcess,
    private readonly dir: string,
  ) {}

  /** ada is in ops, grace in ml. */
  static async start(): Promise<IdentityProvider> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "switchyard-idp-"));
    const accounts = path.join(dir, "accounts.json");
    fs.writeFileSync(accounts, JSON.stringify({ ada: { groups: ["ops"] }, grace: { groups: ["ml"] } }));
    const child = spawn("node", [path.join(__dirname, "..", "oidc", "provider.mjs"), "--accounts", accounts], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    const lines = readline.createInterface({ input: child.stdout! });
    const first = await new Promise<string>((resolve, reject) => {
      lines.once("line", resolve);
      child.once("exit", (code) => reject(new Error(`the identity provider exited (${code})`)));
    });
    return new IdentityProvider(JSON.parse(first).issuer, child, dir);
  }

  /** Switchyard's single sign-on settings for this provider. */
  settings(): Record<string, string> {
    return {
      SWITCHYARD_OIDC_ISSUER: this.issuer,
      SWITCHYARD_OIDC_CLIENT_ID: "switchyard-test",
      SWITCHYARD_OIDC_CLIENT_SECRET: "switchyard-test-client-secret",
      SWITCHYARD_OIDC_NAME: "Test IdP",
      SWITCHYARD_OIDC_ROLE_MAP: "ops=admin,ml=editor",
    };
  }

  dispose(): void {
    this.process.kill("SIGTERM");
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
