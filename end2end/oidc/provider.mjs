// A real OpenID Connect provider for Switchyard's single sign-on tests: the certified
// `oidc-provider` package on a free loopback port, with one confidential client and the test
// accounts of a JSON file (re-read at every sign-in, so a test can move someone to another
// group between two sign-ins). Every account's password is TEST_PASSWORD; consent is granted at
// once, as for a company's own application. Its pages are plain HTML of its own (the package's
// development pages load web fonts from the internet, which tests must not reach).
//
//   node end2end/oidc/provider.mjs --accounts FILE [--id-token-ttl SECONDS]
//        [--clock-offset SECONDS] [--tamper payload|foreign-key]
//
// Prints one JSON line, {"issuer": "http://127.0.0.1:PORT"}, once it listens.
// --clock-offset runs the provider's clock behind (negative) or ahead, so with a short
// --id-token-ttl it issues properly signed ID tokens that have already expired.
// --tamper rewrites the ID token in each token response after the provider signed it:
// `payload` grants the ops group without re-signing; `foreign-key` re-signs it with a key
// this provider does not publish.
import { generateKeyPair, SignJWT, decodeProtectedHeader } from "jose";
import * as fs from "node:fs";
import * as http from "node:http";
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import Provider from "oidc-provider";

export const CLIENT_ID = "switchyard-test";
export const CLIENT_SECRET = "switchyard-test-client-secret";
export const TEST_PASSWORD = "idp-password";
const CALLBACK_PATH = "/auth/oidc/callback";
const SIGNED_OUT_PATH = "/login";

const { values: args } = parseArgs({
  options: {
    accounts: { type: "string" },
    "id-token-ttl": { type: "string", default: "3600" },
    "clock-offset": { type: "string", default: "0" },
    tamper: { type: "string" },
  },
});
if (!args.accounts) {
  console.error("--accounts FILE is required");
  process.exit(2);
}

const clockOffsetMs = Number(args["clock-offset"]) * 1000;
if (clockOffsetMs) {
  const realNow = Date.now;
  Date.now = () => realNow() + clockOffsetMs;
}

function readAccounts() {
  return JSON.parse(fs.readFileSync(args.accounts, "utf8"));
}

async function findAccount(ctx, id) {
  const account = readAccounts()[id];
  if (!account) return undefined;
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        preferred_username: id,
        name: account.name ?? id,
        email: account.email ?? `${id}@example.test`,
        email_verified: true,
        groups: account.groups ?? [],
      };
    },
  };
}

// First-party application: the grant is given without a consent screen.
async function loadExistingGrant(ctx) {
  const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
  if (grantId) return ctx.oidc.provider.Grant.find(grantId);
  const grant = new ctx.oidc.provider.Grant({
    clientId: ctx.oidc.client.clientId,
    accountId: ctx.oidc.session.accountId,
  });
  grant.addOIDCScope("openid email profile groups");
  await grant.save();
  return grant;
}

const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function html(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:sans-serif;max-width:22rem;margin:3rem auto}input,button{display:block;width:100%;margin:.5rem 0;padding:.5rem}</style>
</head><body><h1>${escape(title)}</h1>${body}</body></html>`;
}

function loginPage(uid, error) {
  return html(
    "Test IdP sign-in",
    `${error ? `<p role="alert">${escape(error)}</p>` : ""}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>User name <input name="login" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>`,
  );
}

async function logoutSource(ctx, form) {
  ctx.body = html(
    "Sign out of Test IdP?",
    `${form}<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`,
  );
}

async function renderError(ctx, out) {
  ctx.type = "html";
  ctx.body = html("Test IdP error", `<pre>${escape(JSON.stringify(out, null, 2))}</pre>`);
}

async function formBody(req) {
  let text = "";
  for await (const chunk of req) text += chunk;
  return new URLSearchParams(text);
}

const server = http.createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [`http://127.0.0.1${CALLBACK_PATH}`],
      post_logout_redirect_uris: [`http://127.0.0.1${SIGNED_OUT_PATH}`],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
  ],
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "preferred_username"],
    groups: ["groups"],
  },
  scopes: ["openid", "offline_access", "groups"],
  // Scope claims in the ID token itself, as providers configured for group claims send them.
  conformIdTokenClaims: false,
  cookies: { keys: [randomBytes(32).toString("hex")] },
  findAccount,
  loadExistingGrant,
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true, logoutSource },
  },
  renderError,
  pkce: { required: () => true },
  ttl: { IdToken: Number(args["id-token-ttl"]) },
});

// Switchyard runs on a different free port in every test: accept its callback and signed-out
// page on any loopback port (oidc-provider's documented recipe for wildcard redirect URIs).
function loopbackSwitchyard(value, path) {
  try {
    const url = new URL(value);
    return url.protocol === "http:" && url.hostname === "127.0.0.1" && url.pathname === path;
  } catch {
    return false;
  }
}
provider.Client.prototype.redirectUriAllowed = (value) => loopbackSwitchyard(value, CALLBACK_PATH);
provider.Client.prototype.postLogoutRedirectUriAllowed = (value) => loopbackSwitchyard(value, SIGNED_OUT_PATH);

// The login step: a form, the password checked, then back into the provider's flow.
provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([\w-]+)(\/login)?$/);
  if (!match) return next();
  const { uid, prompt } = await provider.interactionDetails(ctx.req, ctx.res);
  if (prompt.name !== "login") ctx.throw(501, `no page for the ${prompt.name} prompt`);
  ctx.type = "html";
  if (ctx.method === "GET" && !match[2]) {
    ctx.body = loginPage(uid);
    return;
  }
  if (ctx.method !== "POST" || !match[2]) return next();
  const form = await formBody(ctx.req);
  const login = form.get("login") ?? "";
  if (!readAccounts()[login] || form.get("password") !== TEST_PASSWORD) {
    ctx.status = 401;
    ctx.body = loginPage(uid, "Wrong user name or password.");
    return;
  }
  const target = await provider.interactionResult(ctx.req, ctx.res, { login: { accountId: login } }, {
    mergeWithLastSubmission: false,
  });
  ctx.redirect(target);
});

if (args.tamper) {
  const foreignKey = (await generateKeyPair("RS256")).privateKey;
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== "/token" || ctx.status !== 200 || !ctx.body?.id_token) return;
    const [header, payload, signature] = ctx.body.id_token.split(".");
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    claims.groups = ["ops"];
    let idToken;
    if (args.tamper === "payload") {
      idToken = [header, Buffer.from(JSON.stringify(claims)).toString("base64url"), signature].join(".");
    } else {
      const { kid } = decodeProtectedHeader(ctx.body.id_token);
      idToken = await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid }).sign(foreignKey);
    }
    ctx.body = { ...ctx.body, id_token: idToken };
  });
}

server.on("request", provider.callback());
console.log(JSON.stringify({ issuer }));
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
