// Browser tests of the web console (docs/console.md): Debian's chromium driven by
// playwright-core. The script starts the release server itself on a free loopback port with a
// fresh database, makes keys with `sla-credit keys create`, seeds plans, customers, a goodwill
// credit and an incident through the HTTP API, then drives the pages as a person would.
// Every request the page makes must stay on 127.0.0.1.
//
//   node console.test.mjs                        the tests
//   node console.test.mjs --screenshots DIR      the tests, then PNGs of each page at 1280 and
//                                                375 px wide in DIR
// Env: SLA_CREDIT_BIN (default ../../target/release/sla-credit), CHROMIUM (/usr/bin/chromium).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const BIN = resolve(process.env.SLA_CREDIT_BIN || join(here, "../../target/release/sla-credit"));
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const shotsAt = process.argv.indexOf("--screenshots");
const SHOTS = shotsAt > 0 ? resolve(process.argv[shotsAt + 1] || join(here, "../../docs/screenshots")) : null;

const work = mkdtempSync(join(tmpdir(), "sla-console-"));
const db = `sqlite://${join(work, "console.db")}`;
const tokens = {};
const offLoopback = [];
let server;
let base;
let context;
let page;
let serverLog = "";

function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function api(method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${tokens.admin}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

async function entryCount(customer) {
  return (await api("GET", `/v1/customers/${customer}/credits`)).data.length;
}

async function seed() {
  await api("POST", "/v1/plans", {
    id: "pro", name: "Pro", price: "29.00", currency: "USD", billing_cycle: "monthly",
    policy: { preset: "olark-2-days" },
  });
  await api("POST", "/v1/plans", {
    id: "eu", name: "Europe", price: "100.00", currency: "EUR", billing_cycle: "monthly",
    policy: { preset: "aws-ec2-region" },
  });
  await api("POST", "/v1/customers", {
    id: "acme", name: "Acme Corp", email: "ops@acme.test", timezone: "America/Los_Angeles", plan_id: "pro",
  });
  await api("POST", "/v1/customers", {
    id: "globex", name: "Globex GmbH", email: "it@globex.test", timezone: "Europe/Berlin", plan_id: "eu",
  });
  await api("POST", "/v1/customers", {
    id: "xss", name: "<script>alert(1)</script>", email: "x@evil.test", plan_id: "pro",
  });
  // Olark's "2 days' worth": 2 × 29.00 USD ÷ 31 days = 1.8709… → 1.87 USD.
  await api("POST", "/v1/customers/acme/credits", {
    days: 2, reason: "Sorry about the outage", period: "2026-01",
  });
  await api("POST", "/v1/incidents", {
    id: "inc-2026-01-16", title: "Database primary lost", kind: "outage",
    started_at: "2026-01-16T05:06:00Z", ended_at: "2026-01-16T19:00:00Z",
    summary: "The primary database failed over; writes were refused.",
  });
}

before(async () => {
  for (const tool of [BIN, CHROMIUM]) {
    if (!existsSync(tool)) throw new Error(`missing ${tool}`);
  }
  for (const role of ["admin", "billing", "finance", "support"]) {
    tokens[role] = execFileSync(BIN, ["--database", db, "keys", "create", "--name", role, "--role", role])
      .toString().trim();
  }
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(BIN, ["--database", db, "serve", "--bind", `127.0.0.1:${port}`], {
    env: { ...process.env, RUST_LOG: "warn" }, stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout.on("data", (d) => { serverLog += d; });
  server.stderr.on("data", (d) => { serverLog += d; });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(base + "/healthz")).ok) break;
    } catch { /* not up yet */ }
    if (i > 100) throw new Error(`the server did not start:\n${serverLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await seed();
  context = await chromium.launchPersistentContext(join(work, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    viewport: { width: 1280, height: 800 },
  });
  // Nothing leaves loopback: any other host is recorded and refused.
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === "data:" || url.hostname === "127.0.0.1") return route.continue();
    offLoopback.push(route.request().url());
    return route.abort();
  });
  page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(10000);
  page.on("dialog", (d) => {
    offLoopback.push(`dialog: ${d.message()}`);
    d.dismiss();
  });
});

after(async () => {
  if (context) await context.close();
  if (server) server.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
});

async function signIn(role) {
  await context.clearCookies();
  await page.goto(base + "/");
  await page.getByLabel("API key").fill(tokens[role]);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(base + "/customers");
  assert.equal(await page.locator(".role").textContent(), role);
}

test("signs in with an API key into an HttpOnly SameSite=Strict session", async () => {
  await page.goto(base + "/customers");
  assert.ok(page.url().startsWith(base + "/?next="), page.url());
  await signIn("admin");
  const cookie = (await context.cookies()).find((c) => c.name === "slc_console");
  assert.ok(cookie, "a session cookie");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  assert.equal(await page.evaluate(() => document.cookie), "", "no cookie is readable by script");
});

test("finds a customer as you type and reads the exact credit and its explanation", async () => {
  await page.goto(base + "/customers");
  await page.getByLabel(/Search by id, name or e-mail/).focus();
  await page.keyboard.type("Acm");
  await page.waitForFunction(() => document.querySelectorAll("#results li").length === 1);
  assert.equal(await page.locator("#results li .name").textContent(), "Acme Corp");
  assert.equal(new URL(page.url()).search, "?q=Acm");
  // Keyboard: from the box to the result, Enter opens it.
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await page.waitForURL(base + "/customers/acme");
  assert.equal(await page.locator("h1").textContent(), "Acme Corp");
  assert.match(await page.locator(".facts").textContent(), /America\/Los_Angeles/);
  assert.equal(await page.locator('tr[data-currency="USD"] .total').textContent(), "1.87 USD");
  const entry = page.locator(".entry").first();
  assert.equal(await entry.locator(".amount").textContent(), "1.87 USD");
  assert.equal(await entry.locator(".explanation").textContent(), "Goodwill: 2 days × 29.00 USD ÷ 31 days = 1.87 USD");
  assert.match(await entry.locator(".entry-head").textContent(), /-0[78]:00/, "the instant in the customer's zone");
});

test("the search form works without the script", async () => {
  await context.route(/console\.js$/, (route) => route.abort());
  try {
    await page.goto(base + "/customers");
    await page.getByLabel(/Search by id, name or e-mail/).fill("glob");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(base + "/customers?q=glob");
    assert.equal(await page.locator("#results li .name").textContent(), "Globex GmbH");
  } finally {
    await context.unroute(/console\.js$/);
  }
});

test("a customer named <script> shows as text", async () => {
  await page.goto(base + "/customers?q=xss");
  assert.equal(await page.locator("#results li .name").textContent(), "<script>alert(1)</script>");
  await page.goto(base + "/customers/xss");
  assert.equal(await page.locator("h1").textContent(), "<script>alert(1)</script>");
  assert.equal(await page.locator("script").count(), 1, "only the console's own script");
  await page.goto(base + "/customers");
  await page.getByLabel(/Search by id, name or e-mail/).fill("xs");
  await page.waitForFunction(() => document.querySelectorAll("#results li").length === 1);
  assert.equal(await page.locator("#results li .name").textContent(), "<script>alert(1)</script>");
  assert.equal(await page.locator("script").count(), 1);
});

test("a support key sees no write controls and gets 403 when it forges them", async () => {
  await signIn("support");
  await page.goto(base + "/customers/acme");
  assert.equal(await page.locator("#goodwill-form").count(), 0);
  const before = await entryCount("acme");
  // The same form a billing key gets, built by hand with this session's CSRF token.
  const forged = page.waitForResponse((r) => r.url().endsWith("/customers/acme/goodwill"));
  await page.evaluate(() => {
    const f = document.createElement("form");
    f.method = "post";
    f.action = "/customers/acme/goodwill";
    const csrf = document.querySelector('input[name="csrf"]').value;
    for (const [k, v] of Object.entries({ csrf, grant: "amount", value: "500.00", reason: "forged" })) {
      const i = document.createElement("input");
      i.type = "hidden"; i.name = k; i.value = v;
      f.appendChild(i);
    }
    document.body.appendChild(f);
    f.submit();
  });
  assert.equal((await forged).status(), 403);
  await page.waitForLoadState();
  assert.match(await page.locator("h1").textContent(), /role may not/);
  assert.equal(await entryCount("acme"), before, "nothing written");
  await page.goto(base + "/incidents/inc-2026-01-16");
  assert.equal(await page.locator("#settle").count(), 0);
  assert.equal(await page.locator("#dry-run").count(), 1, "a dry run is a read");
});

test("dry-runs, then settles an incident", async () => {
  await signIn("finance");
  await page.getByRole("link", { name: "Incidents" }).click();
  await page.getByRole("link", { name: "inc-2026-01-16" }).click();
  await page.waitForURL(base + "/incidents/inc-2026-01-16");
  await page.locator("#dry-run").click();
  await page.waitForSelector("#report");
  assert.equal(await page.locator("#report").getAttribute("data-dry-run"), "true");
  // Acme and the <script> customer: 2 days × 29.00 ÷ 31 = 1.87 USD each; Globex, in Berlin:
  // 50 040 s down of January's 2 678 400 s = 98.13 % uptime: below 99.0 %, the 30 % tier of
  // 100.00 EUR.
  const totals = await page.locator(".totals li").allTextContents();
  assert.deepEqual(totals, ["30.00 EUR", "3.74 USD"]);
  assert.equal(await entryCount("acme"), 1, "a dry run writes nothing");
  await page.locator("#settle").click();
  await page.waitForSelector('#report[data-dry-run="false"]');
  assert.deepEqual(await page.locator(".totals li").allTextContents(), ["30.00 EUR", "3.74 USD"]);
  assert.match(await page.locator("#report").textContent(), /3 entries appended/);
  assert.equal(await entryCount("acme"), 2);
  await page.locator("#report a", { hasText: "acme" }).click();
  assert.equal(await page.locator('tr[data-currency="USD"] .total').textContent(), "3.74 USD");
  const credit = page.locator(".entry").first();
  assert.equal(await credit.locator(".explanation").textContent(), "2 days × 29.00 USD ÷ 31 days = 1.87 USD");
  await credit.locator("summary").click();
  const breakdown = await credit.locator(".breakdown").textContent();
  assert.match(breakdown, /2026-01-01T00:00:00-08:00 → 2026-02-01T00:00:00-08:00/);
  assert.match(breakdown, /98\.13172043010752688172043011 %/);
});

test("labelled inputs, and usable at 375 px wide", async () => {
  await page.setViewportSize({ width: 375, height: 812 });
  try {
    for (const path of ["/customers", "/customers/acme", "/incidents", "/incidents/inc-2026-01-16"]) {
      await page.goto(base + path);
      const unlabelled = await page.evaluate(() =>
        [...document.querySelectorAll("input:not([type=hidden]), select")]
          .filter((i) => !i.labels || i.labels.length === 0).map((i) => i.name));
      assert.deepEqual(unlabelled, [], path);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(wide <= 375, `${path} is ${wide} px wide`);
    }
  } finally {
    await page.setViewportSize({ width: 1280, height: 800 });
  }
});

test("no request left loopback", () => {
  assert.deepEqual(offLoopback, []);
});

if (SHOTS) {
  test("screenshots", async () => {
    mkdirSync(SHOTS, { recursive: true });
    const pages = [
      ["sign-in", async () => { await context.clearCookies(); await page.goto(base + "/"); }],
      ["customers", async () => { await signIn("billing"); await page.goto(base + "/customers?q="); }],
      ["customer", async () => {
        await page.goto(base + "/customers/acme");
        await page.locator(".entry summary").first().click();
      }],
      ["incidents", async () => { await page.goto(base + "/incidents"); }],
      ["incident-dry-run", async () => {
        await page.goto(base + "/incidents/inc-2026-01-16");
        await page.locator("#dry-run").click();
        await page.waitForSelector("#report");
      }],
      ["forbidden", async () => {
        await signIn("support");
        await page.goto(base + "/customers/acme");
        await page.evaluate(() => {
          const f = document.createElement("form");
          f.method = "post"; f.action = "/incidents/inc-2026-01-16/settle";
          for (const [k, v] of Object.entries({ csrf: document.querySelector('input[name="csrf"]').value, action: "settle" })) {
            const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.appendChild(i);
          }
          document.body.appendChild(f); f.submit();
        });
        await page.waitForURL(/settle$/);
      }],
    ];
    for (const [width, suffix] of [[1280, "desktop"], [375, "phone"]]) {
      await page.setViewportSize({ width, height: width === 375 ? 812 : 800 });
      for (const [name, open] of pages) {
        await open();
        await page.screenshot({ path: join(SHOTS, `${name}-${suffix}.png`), fullPage: true });
      }
    }
    assert.deepEqual(offLoopback, []);
  });
}
