// Starts a real Switchyard server for one test: its own SQLite database in a temp folder,
// a free port, and a known first-admin setup token.
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export const SETUP_TOKEN = "e2e-setup-token";
const repoRoot = path.resolve(__dirname, "..", "..");

function binaryPath(): string {
  if (process.env.SWITCHYARD_BIN) return process.env.SWITCHYARD_BIN;
  const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(repoRoot, "target");
  return path.join(targetDir, "debug", "switchyard");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address && typeof address === "object") {
        const port = address.port;
        server.close(() => resolve(port));
      } else {
        reject(new Error("no port"));
      }
    });
  });
}

export class Server {
  private process?: ChildProcess;
  private log = "";
  readonly dataDir: string;
  port = 0;

  /** `env`: extra settings for the server, e.g. `SWITCHYARD_CONFIG` (read at each start). */
  constructor(public env: Record<string, string> = {}) {
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "switchyard-e2e-"));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts (or restarts, on the same port and database) and waits until it answers. */
  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    const child = spawn(binaryPath(), [], {
      cwd: repoRoot,
      env: {
        ...process.env,
        SWITCHYARD_ADDR: `127.0.0.1:${this.port}`,
        DATABASE_URL: `sqlite://${this.dataDir}/switchyard.db`,
        SWITCHYARD_DATA_DIR: this.dataDir,
        SWITCHYARD_SETUP_TOKEN: SETUP_TOKEN,
        LEPTOS_SITE_ROOT: path.join(repoRoot, "target", "site"),
        RUST_LOG: "warn",
        ...this.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (chunk) => (this.log += chunk));
    child.stderr?.on("data", (chunk) => (this.log += chunk));
    this.process = child;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) {
        throw new Error(`server exited early (${child.exitCode}):\n${this.log}`);
      }
      try {
        const response = await fetch(`${this.url}/healthz`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`server did not answer within 30 s:\n${this.log}`);
  }

  /** SIGTERM, then wait for a clean exit. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}
