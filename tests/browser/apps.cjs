// An owner manages an OAuth application in a real Chromium (playwright-core, Debian's
// chromium): register it on the applications page, read its client_id and secret
// once, get a client_credentials token with them from outside the browser (node's
// fetch), rotate the secret (the old one stops at once), disable the application and
// see the token endpoint refuse it; then open the audit log and filter it by type and
// by actor. Every control on each page must have an accessible name; the pages must
// fit a phone's width. Run by tests/api/dashboard_apps.rs, which starts keygate and
// passes the addresses and the set-up link in the environment; screenshots go to
// SCREENSHOTS.
"use strict";

const { BASE, check, everyControlIsNamed, fitsAPhone, shot, setUpAndSignIn, launch } = require("./common.cjs");
const OWNER = { email: process.env.OWNER_EMAIL, id: process.env.OWNER_ID, setup: process.env.OWNER_SETUP_URL };

// POST /oauth/token with client_secret_basic, from outside the browser.
async function token(id, secret) {
  const basic = Buffer.from(encodeURIComponent(id) + ":" + encodeURIComponent(secret)).toString("base64");
  const response = await fetch(BASE + "/oauth/token", {
    method: "POST",
    headers: { Authorization: "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded" },
    body: "grant_type=client_credentials",
  });
  return response.status;
}

(async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await setUpAndSignIn(page, OWNER.email, OWNER.setup);

    await page.getByRole("link", { name: "Applications" }).click();
    await page.waitForURL(/\/dashboard\/apps$/);
    check(await page.getByRole("heading", { name: "OAuth applications" }).isVisible(), "the nav leads to the applications page");
    await everyControlIsNamed(page, "applications page");

    await page.getByLabel("Name").fill("Billing sync");
    await page.getByRole("checkbox", { name: "write", exact: true }).check();
    await page.getByLabel("Audiences").fill("https://api.example.com");
    await page.getByLabel("Access-token lifetime").selectOption("15m");
    await page.getByRole("button", { name: "Register application" }).click();
    const id = await page.locator("#client-id").inputValue();
    const secret = await page.locator("#new-secret").inputValue();
    check(/^kgc_[0-9a-f]{32}$/.test(id), "the client_id is shown: " + id);
    check(secret.length >= 32, "the secret is shown once");
    check(await page.getByText("will not show it again").isVisible(), "with the warning that it will not be shown again");
    await everyControlIsNamed(page, "application-created page");
    await shot(page, "app-created");
    check((await token(id, secret)) === 200, "a client_credentials token with it, from outside the browser");

    await page.getByRole("link", { name: "Back to the applications" }).click();
    check(!(await page.content()).includes(secret), "the list never shows the secret again");
    await shot(page, "apps");
    await fitsAPhone(page, "the applications page");

    await page.getByRole("link", { name: "Billing sync" }).click();
    await page.waitForURL(/\/dashboard\/apps\/kgc_/);
    check(!(await page.content()).includes(secret), "nor does the application's page");
    check(await page.locator("svg[role=img]").first().isVisible(), "the token chart is drawn");
    await everyControlIsNamed(page, "application page");
    await fitsAPhone(page, "the application page");

    await page.getByLabel("Name").fill("Billing sync v2");
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForURL(/notice=saved/);
    check(await page.getByRole("heading", { name: /Billing sync v2/ }).isVisible(), "the edit is saved");

    await page.getByLabel("The old secret keeps working for").selectOption("");
    await page.getByRole("button", { name: "Rotate secret" }).click();
    const rotated = await page.locator("#new-secret").inputValue();
    check(rotated !== secret, "rotation shows the new secret once");
    check((await token(id, secret)) === 401, "the old secret stops at once (no overlap chosen)");
    check((await token(id, rotated)) === 200, "the new secret works");

    await page.getByRole("link", { name: "To the application", exact: true }).click();
    // The counts reach the database with the next flush (every second here).
    let charted = false;
    for (let i = 0; i < 50 && !charted; i++) {
      await page.waitForTimeout(200);
      await page.reload();
      charted = await page.getByRole("img", { name: /^Tokens, last 24 hours: 3 in all/ }).isVisible();
    }
    check(charted, "the chart counts the tokens issued and refused");
    await shot(page, "app-detail");
    await page.getByRole("checkbox", { name: /I want to disable/ }).check();
    await page.getByRole("button", { name: "Disable application" }).click();
    await page.waitForURL(/notice=disabled/);
    check((await token(id, rotated)) === 401, "the disabled application's token request is refused");

    await page.getByRole("link", { name: "Audit log" }).click();
    await page.waitForURL(/\/dashboard\/audit$/);
    await everyControlIsNamed(page, "audit log");
    const first = await page.locator("tbody tr").first().textContent();
    check(first.includes("client.disabled"), "the audit log shows the newest first");
    await page.getByLabel("Type").selectOption("client.secret_rotated");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/type=client.secret_rotated/);
    const rows = await page.locator("tbody tr").count();
    check(rows === 1, "the audit log filters by type");
    await page.getByLabel("Type").selectOption("");
    await page.getByLabel("Actor").fill("user:" + OWNER.id);
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/actor=user/);
    const actors = await page.locator("tbody tr td:nth-child(3)").allTextContents();
    check(actors.length >= 5 && actors.every((a) => a.trim() === OWNER.email + "user:" + OWNER.id), "the audit log filters by actor, and names the person by their email");
    await page.getByLabel("Actor").fill("");
    await page.getByRole("button", { name: "Filter" }).click();
    await shot(page, "audit");
    await fitsAPhone(page, "the audit log");
  } finally {
    await browser.close();
  }
})().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
