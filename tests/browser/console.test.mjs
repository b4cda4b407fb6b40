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
import { mkdtempSync, mkdirSync, rmSync, existsSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
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

// A GET with a role's token, answered as status and raw bytes.
async function raw(role, path, accept) {
  const headers = { Authorization: `Bearer ${tokens[role]}` };
  if (accept) headers.Accept = accept;
  const r = await fetch(base + path, { headers });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

const FIXTURES = join(here, "../../fixtures/csv");
const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

async function entryCount(customer) {
  return (await api("GET", `/v1/customers/${customer}/credits`)).data.length;
}

async function seed() {
  await api("POST", "/v1/plans", {
    id: "starter", name: "Starter", price: "29.00", currency: "USD", billing_cycle: "monthly",
    policy: { preset: "olark-2-days" },
  });
  await api("POST", "/v1/plans", {
    id: "eu", name: "Europe", price: "100.00", currency: "EUR", billing_cycle: "monthly",
    policy: { preset: "aws-ec2-region" },
  });
  await api("POST", "/v1/customers", {
    id: "acme", name: "Acme Corp", email: "ops@acme.test", timezone: "America/Los_Angeles", plan_id: "starter",
  });
  await api("POST", "/v1/customers", {
    id: "globex", name: "Globex GmbH", email: "it@globex.test", timezone: "Europe/Berlin", plan_id: "eu",
  });
  await api("POST", "/v1/customers", {
    id: "xss", name: "<script>alert(1)</script>", email: "x@evil.test", plan_id: "starter",
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

test("opens the follow-up notice of a settled credit, and the incident's notices", async () => {
  await signIn("support");
  await page.goto(base + "/customers/acme");
  const credit = page.locator(".entry").first();
  const entry = await credit.getAttribute("data-entry");
  await credit.locator(".notice-link").click();
  await page.waitForURL(`${base}/credits/${entry}/notice`);
  assert.equal(await page.locator("h1").textContent(), "Notice to Acme Corp");
  const text = await page.locator("#notice-text").textContent();
  assert.match(text, /^Subject: About the Database primary lost/);
  assert.match(text, /Dear Acme Corp,/);
  // The settled credit: 2 days × 29.00 USD ÷ 31 days = 1.87 USD for January.
  assert.match(text, /\*\*1\.87 USD\*\* for 2026-01/);
  // The same letter the API renders for this entry, as text.
  const fromApi = await raw("support", `/v1/credits/${entry}/notice`);
  assert.equal(fromApi.status, 200);
  assert.equal(text, fromApi.body.toString("utf8"));
  // The incident's page lists every settled customer's notice; a name that is markup stays text.
  await page.goto(base + "/incidents/inc-2026-01-16");
  await page.waitForSelector("#notices");
  const listed = await page.locator("#notices li > a:first-child").allTextContents();
  assert.deepEqual(listed, ["acme", "globex", "xss"], await page.locator("#recorded").innerHTML());
  assert.match(await page.locator("#recorded .settlements").textContent(), /30\.00 EUR\s*3\.74 USD/);
  await page.locator('#notices a[href$="/notices/xss"]').click();
  await page.waitForURL(base + "/incidents/inc-2026-01-16/notices/xss");
  assert.match(await page.locator("#notice-text").textContent(), /Dear <script>alert\(1\)<\/script>,/);
  assert.equal(await page.locator("script").count(), 1, "only the console's own script");
});

test("uploads a CSV: a dry run first, then the import, and the same file again is recognized", async () => {
  await signIn("finance");
  await page.getByRole("link", { name: "Imports" }).click();
  await page.waitForURL(base + "/imports");
  assert.equal(await page.locator("#no-imports").count(), 1);
  const file = join(FIXTURES, "plans_valid.csv");
  await page.getByLabel("Kind", { exact: true }).selectOption("plans");
  await page.getByLabel("CSV file", { exact: true }).setInputFiles(file);
  await page.locator("#dry-run-upload").click();
  await page.waitForSelector('#outcome[data-clean="true"]');
  // basic, pro and yearly: three data rows under the header.
  assert.equal(await page.locator("#dry-run-rows").textContent(), "3");
  assert.equal((await raw("admin", "/v1/plans/basic")).status, 404, "a dry run stores nothing");
  await page.locator("#confirm-import").click();
  await page.waitForURL(base + "/imports/imp_1?stored=1");
  assert.match(await page.locator("#stored").textContent(), /3 row\(s\) stored/);
  assert.equal(await page.locator("#import-sha256").textContent(), sha256(readFileSync(file)));
  const plan = JSON.parse((await raw("admin", "/v1/plans/basic")).body);
  assert.equal(plan.price, "29.00");
  assert.equal(plan.currency, "USD");
  // The same file again: recognized as imp_1, and nothing to confirm.
  await page.goto(base + "/imports");
  await page.getByLabel("Kind", { exact: true }).selectOption("plans");
  await page.getByLabel("CSV file", { exact: true }).setInputFiles(file);
  await page.locator("#dry-run-upload").click();
  await page.waitForSelector("#already-imported");
  assert.match(await page.locator("#already-imported").textContent(), /already imported as imp_1/);
  assert.equal(await page.locator("#confirm-import").count(), 0);
  assert.deepEqual(await page.locator("#imports tbody td:first-child").allTextContents(), ["imp_1"]);
});

test("an invalid CSV shows its row errors and stores nothing", async () => {
  await page.goto(base + "/imports");
  await page.getByLabel("Kind", { exact: true }).selectOption("customers");
  await page.getByLabel("CSV file", { exact: true }).setInputFiles(join(FIXTURES, "invalid_several_rows.csv"));
  await page.locator("#dry-run-upload").click();
  await page.waitForSelector("#row-errors");
  // fixtures/csv/README.md: rows 3 (an id with a space), 4 (an e-mail without @) and 5 (a zone
  // that does not exist); row 2 is valid, its plan basic exists since the previous import.
  const cells = await page.locator("#row-errors tbody tr").evaluateAll((rows) =>
    rows.map((r) => [...r.querySelectorAll("td")].slice(0, 3).map((td) => td.textContent)));
  assert.deepEqual(cells, [["3", "id", "bad id"], ["4", "email", "not-an-email"], ["5", "timezone", "Nowhere/City"]]);
  const messages = await page.locator("#row-errors td.message").allTextContents();
  assert.ok(messages.every((m) => m.length > 0), "every error says what is wrong");
  assert.match(await page.locator("#nothing-stored").textContent(), /3 problem\(s\) found\. Nothing was stored/);
  assert.equal(await page.locator("#confirm-import").count(), 0);
  // Checked through the API: not even the valid row was stored, and no import was recorded.
  assert.equal((await raw("admin", "/v1/customers/good")).status, 404);
  const imports = JSON.parse((await raw("admin", "/v1/imports")).body);
  assert.deepEqual(imports.data.map((i) => i.id), ["imp_1"]);
});

test("creates an export batch and downloads the same bytes as the API", async () => {
  await page.getByRole("link", { name: "Exports" }).click();
  await page.waitForURL(base + "/exports");
  await page.locator("#create-export").click();
  await page.waitForURL(base + "/exports/exp_1?created=1");
  // Every entry so far: acme's goodwill 1.87 USD, then the settlement's 1.87 USD for acme and
  // for the <script> customer, and 30.00 EUR for Globex.
  assert.equal(await page.locator("#export-rows").textContent(), "4");
  assert.deepEqual((await page.locator("#export-totals li").allTextContents()).sort(), ["30.00 EUR", "5.61 USD"]);
  const plain = await raw("finance", "/v1/exports/exp_1.csv");
  assert.equal(plain.status, 200);
  assert.equal(await page.locator("#export-sha256").textContent(), sha256(plain.body));
  for (const [link, query] of [["#download-plain", ""], ["#download-excel", "?bom=true&delimiter=%3B"]]) {
    const waiting = page.waitForEvent("download");
    await page.locator(link).click();
    const download = await waiting;
    const got = readFileSync(await download.path());
    const api = await raw("finance", `/v1/exports/exp_1.csv${query}`);
    assert.equal(api.status, 200);
    assert.ok(got.equals(api.body), `${link}: the console's file differs from the API's`);
  }
  const excel = (await raw("finance", "/v1/exports/exp_1.csv?bom=true&delimiter=%3B")).body;
  assert.deepEqual([...excel.subarray(0, 3)], [0xef, 0xbb, 0xbf], "Excel's file starts with a BOM");
  assert.match(excel.subarray(3).toString("utf8"), /^entry_id;kind;customer_id;/);
  await page.getByLabel("Billing's reference").fill("billing-load-1");
  await page.locator("#acknowledge").click();
  await page.waitForURL(base + "/exports/exp_1?acknowledged=1");
  assert.equal(await page.locator("#export-status").textContent(), "acknowledged");
});

test("a support key sees no import or export controls and gets 403 when it forges them", async () => {
  await signIn("support");
  await page.goto(base + "/imports");
  assert.equal(await page.locator("#upload-form").count(), 0);
  assert.equal(await page.locator("#imports tbody tr").count(), 1, "the history is a read");
  await page.goto(base + "/exports/exp_1");
  assert.equal(await page.locator("#download-plain, #download-excel, #acknowledge").count(), 0);
  await page.goto(base + "/exports");
  assert.equal(await page.locator("#create-export").count(), 0);
  const statuses = await page.evaluate(async () => {
    const csrf = document.querySelector('input[name="csrf"]').value;
    const upload = new FormData();
    upload.append("csrf", csrf);
    upload.append("kind", "customers");
    upload.append("file", new Blob(["id,name,plan_id\nforged,Forged,basic\n"], { type: "text/csv" }), "forged.csv");
    const post = (path, body) => fetch(path, { method: "POST", body }).then((r) => r.status);
    return {
      upload: await post("/imports", upload),
      confirm: await post("/imports/confirm", new URLSearchParams({ csrf, kind: "plans", sha256: "0" })),
      create: await post("/exports", new URLSearchParams({ csrf })),
      download: await fetch("/exports/exp_1/csv").then((r) => r.status),
    };
  });
  assert.deepEqual(statuses, { upload: 403, confirm: 403, create: 403, download: 403 });
  assert.equal((await raw("admin", "/v1/customers/forged")).status, 404);
  assert.equal(JSON.parse((await raw("admin", "/v1/exports")).body).data.length, 1);
});

test("labelled inputs, and usable at 375 px wide", async () => {
  await page.setViewportSize({ width: 375, height: 812 });
  try {
    await signIn("admin");
    const paths = ["/customers", "/customers/acme", "/incidents", "/incidents/inc-2026-01-16",
      "/incidents/inc-2026-01-16/notices/acme", "/imports", "/imports/imp_1", "/exports", "/exports/exp_1"];
    for (const path of paths) {
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
      ["notice", async () => {
        await page.goto(base + "/customers/acme");
        await page.locator(".notice-link").first().click();
        await page.waitForSelector("#notice-text");
      }],
      ["import-errors", async () => {
        await signIn("finance");
        await page.goto(base + "/imports");
        await page.getByLabel("Kind", { exact: true }).selectOption("customers");
        await page.getByLabel("CSV file", { exact: true }).setInputFiles(join(FIXTURES, "invalid_several_rows.csv"));
        await page.locator("#dry-run-upload").click();
        await page.waitForSelector("#row-errors");
      }],
      ["import-dry-run", async () => {
        await page.goto(base + "/imports");
        await page.getByLabel("Kind", { exact: true }).selectOption("customers");
        await page.getByLabel("CSV file", { exact: true }).setInputFiles(join(FIXTURES, "customers_quoted.csv"));
        await page.locator("#dry-run-upload").click();
        await page.waitForSelector("#dry-run-clean");
      }],
      ["import", async () => { await page.goto(base + "/imports/imp_1"); }],
      ["exports", async () => { await page.goto(base + "/exports"); }],
      ["export", async () => { await page.goto(base + "/exports/exp_1"); }],
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
