// The web console (api/console) in headless Chromium, driven by
// playwright-core, against the `replicator dev` that run.sh started with a
// replicator (CONSOLE_ARN) whose source topic gets records all along.
//
//   bash test/console/run.sh
//
// The assertions are on what the page shows (text and the charts' data
// attributes), not on pixels; the screenshot (artifacts/console.png) is only
// checked not to be blank.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const env = process.env;
const NAMES = ["CONSOLE_ENDPOINT", "CONSOLE_REGION", "CONSOLE_KEY_ID", "CONSOLE_SECRET", "CONSOLE_ARN", "CONSOLE_REPLICATOR_NAME"];
const missing = NAMES.filter((n) => !env[n]);
if (missing.length > 0) throw new Error(`missing ${missing.join(", ")}: run this test with test/console/run.sh`);

const HERE = dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = env.CONSOLE_ARTIFACTS || join(HERE, "artifacts");
const CHROMIUM = env.CHROMIUM || "/usr/bin/chromium";
const CONSOLE_URL = `${env.CONSOLE_ENDPOINT}/console`;
const WAIT = 45_000; // longest wait for something the page should show

describe("web console", { timeout: 240_000 }, () => {
  let browser, page;
  const pageErrors = [];
  const requests = [];

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"],
    });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "en-GB", timezoneId: "UTC" });
    page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("request", (r) => requests.push({ url: r.url(), headers: r.headers(), body: r.postData() || "" }));
  });

  after(async () => {
    await browser?.close();
  });

  /** The number a page element shows ("12,345 rec/s" → 12345). */
  async function numberIn(selector) {
    const text = await page.locator(selector).first().textContent();
    const n = Number(text.replace(/[^0-9.]/g, ""));
    assert.ok(text && !Number.isNaN(n), `${selector} shows ${JSON.stringify(text)}, not a number`);
    return n;
  }

  test("/console redirects to the page, which asks for a key", async () => {
    const res = await page.goto(CONSOLE_URL);
    assert.equal(res.status(), 200);
    assert.equal(new URL(page.url()).pathname, "/console/");
    await page.locator("form.signin").waitFor();
    assert.equal(await page.inputValue("#region"), "us-east-1");
  });

  test("a wrong secret is refused and the form stays", async () => {
    await page.fill("#access-key-id", env.CONSOLE_KEY_ID);
    await page.fill("#secret-access-key", "not-the-secret");
    await page.click("[data-testid=sign-in]");
    const error = page.locator("[data-testid=sign-in-error]");
    await error.waitFor({ state: "visible" });
    assert.match(await error.textContent(), /signature does not match/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  test("signing in lists the replicator as RUNNING", async () => {
    await page.fill("#access-key-id", env.CONSOLE_KEY_ID);
    await page.fill("#secret-access-key", env.CONSOLE_SECRET);
    await page.fill("#region", env.CONSOLE_REGION);
    await page.click("[data-testid=sign-in]");
    const row = page.locator(`[data-testid=replicator-row][data-name="${env.CONSOLE_REPLICATOR_NAME}"]`);
    await row.waitFor();
    assert.equal(new URL(page.url()).hash, "#/replicators");
    // The list refreshes every 2 s: the state reaches RUNNING without a reload.
    await row.locator('[data-testid=state][data-state="RUNNING"]').waitFor();
    assert.match(await row.textContent(), /source-[0-9a-f]+\s*→\s*target-[0-9a-f]+/);
    await page.screenshot({ path: join(ARTIFACTS, "console-list.png") });

    // The key is in this tab's sessionStorage only, and no request carried the secret.
    const stored = await page.evaluate(() => ({ session: Object.values(sessionStorage).join(), local: localStorage.length }));
    assert.match(stored.session, new RegExp(env.CONSOLE_KEY_ID));
    assert.equal(stored.local, 0);
    const leaks = requests.filter((r) => (r.url + JSON.stringify(r.headers) + r.body).includes(env.CONSOLE_SECRET));
    assert.deepEqual(leaks.map((r) => r.url), [], "requests that carried the secret access key");
    assert.ok(requests.some((r) => /^AWS4-HMAC-SHA256 Credential=/.test(r.headers.authorization || "")), "no signed request was seen");
  });

  test("the replicator's page shows its partitions and live figures that follow the traffic", async () => {
    await page.click(`[data-testid=replicator-row][data-name="${env.CONSOLE_REPLICATOR_NAME}"] a.name`);
    assert.equal(decodeURIComponent(new URL(page.url()).hash), `#/replicators/${env.CONSOLE_ARN}`);
    await page.locator('[data-testid=replicator-name]').filter({ hasText: env.CONSOLE_REPLICATOR_NAME }).waitFor();

    // Three partitions of "orders", each with a worker and numeric figures.
    const rows = page.locator("[data-testid=partition-row]");
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=partition-row]").length === 3);
    for (let i = 0; i < 3; i++) {
      const row = rows.nth(i);
      assert.equal(await row.getAttribute("data-topic"), "orders");
      assert.equal(await row.getAttribute("data-partition"), String(i));
      for (const col of ["lag", "records-per-sec", "records"]) {
        const text = await row.locator(`[data-col=${col}]`).textContent();
        assert.match(text, /^[0-9][0-9,.]*$/, `partition ${i} ${col} shows ${JSON.stringify(text)}`);
      }
    }
    await page.waitForFunction(() => [...document.querySelectorAll("[data-testid=partition-row] [data-col=checkpoint]")]
      .every((td) => /^[0-9][0-9,]*$/.test(td.textContent)), null, { timeout: WAIT });
    assert.match(await page.textContent("[data-testid=stat-jobs-leased]"), /^\d+ \/ \d+$/);
    assert.ok(await numberIn("[data-testid=stat-workers]") >= 1, "no worker holds a lease");

    // Records keep arriving: the copied figure grows between two reads.
    await page.waitForFunction(() => Number(document.querySelector("[data-testid=stat-records-copied]").textContent.replace(/\D/g, "")) > 0);
    const first = await numberIn("[data-testid=stat-records-copied]");
    await page.waitForFunction((n) => Number(document.querySelector("[data-testid=stat-records-copied]").textContent.replace(/\D/g, "")) > n, first);
    const second = await numberIn("[data-testid=stat-records-copied]");
    assert.ok(second > first, `records copied went from ${first} to ${second}`);

    // The charts gain a sample every 2 s and the throughput chart shows traffic.
    const points = async (id) => Number(await page.getAttribute(`[data-testid=chart-${id}]`, "data-points"));
    const before = await points("records-per-sec");
    await page.waitForFunction((n) => Number(document.querySelector("[data-testid=chart-records-per-sec]").dataset.points) >= n + 2, before);
    assert.ok(await points("lag") >= before + 2);
    await page.waitForFunction(() => /peak [1-9]/.test(document.querySelector("[data-testid=chart-records-per-sec]").closest("section").textContent));
    const rates = await page.evaluate(() => document.querySelector("[data-testid=chart-records-per-sec-now]").textContent);
    assert.match(rates, /^[0-9][0-9,.]* now$/);

    // The recent state changes: created, then running (newest first).
    const events = await page.locator("[data-testid=event] [data-testid=state]").evaluateAll((els) => els.map((e) => e.dataset.state));
    assert.deepEqual(events.slice(-2), ["RUNNING", "CREATING"]);
  });

  test("a screenshot of the replicator's page is not blank", async () => {
    // Let both charts draw a visible stretch of line first.
    await page.waitForFunction(() => Number(document.querySelector("[data-testid=chart-lag]").dataset.points) >= 8);
    const file = join(ARTIFACTS, "console.png");
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(statSync(file).size > 10_000, `${file} is only ${statSync(file).size} bytes`);

    // Decode it in the browser and measure how varied it is: a blank or
    // single-colour page has few colours and almost no luminance spread.
    const b64 = readFileSync(file).toString("base64");
    const probe = await browser.newPage();
    const stats = await probe.evaluate(async (src) => {
      const img = new Image();
      img.src = src;
      await img.decode();
      const c = document.createElement("canvas");
      c.width = img.width;
      c.height = img.height;
      const g = c.getContext("2d");
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      const colours = new Set();
      let sum = 0, sum2 = 0, n = 0;
      for (let i = 0; i < d.length; i += 4 * 7) {
        const y = 0.2126 * d[i] + 0.7152 * d[i + 1] + 0.0722 * d[i + 2];
        sum += y;
        sum2 += y * y;
        n++;
        colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      }
      const mean = sum / n;
      return { width: c.width, height: c.height, colours: colours.size, stddev: Math.sqrt(sum2 / n - mean * mean) };
    }, `data:image/png;base64,${b64}`);
    await probe.close();
    assert.ok(stats.width >= 1440 && stats.height >= 900, `screenshot is ${stats.width}×${stats.height}`);
    assert.ok(stats.colours > 100, `the screenshot has only ${stats.colours} colours`);
    assert.ok(stats.stddev > 10, `the screenshot's luminance spread is only ${stats.stddev.toFixed(1)}`);
  });

  test("a key the server refuses sends the page back to sign-in with the reason", async () => {
    await page.evaluate(() => {
      const key = Object.keys(sessionStorage)[0];
      const c = JSON.parse(sessionStorage.getItem(key));
      sessionStorage.setItem(key, JSON.stringify({ ...c, secretAccessKey: "revoked" }));
    });
    await page.reload();
    const error = page.locator("[data-testid=sign-in-error]");
    await error.waitFor({ state: "visible" });
    assert.match(await error.textContent(), /^Signed out: .*signature does not match/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  test("signing out forgets the key", async () => {
    await page.fill("#access-key-id", env.CONSOLE_KEY_ID);
    await page.fill("#secret-access-key", env.CONSOLE_SECRET);
    await page.click("[data-testid=sign-in]");
    await page.locator("[data-testid=sign-out]").click();
    await page.locator("form.signin").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.deepEqual(pageErrors, [], "uncaught errors in the page");
  });
});
