// A person uses the dashboard in a real Chromium (playwright-core, Debian's chromium):
// set a password through the set-up link, sign in, create a key and read it from the
// page once, use it from outside the browser, rotate it, revoke it, see the create
// form follow a key policy an admin sets through the API, sign out; then a
// viewer signs in and finds no way to create keys. Every control on each page must
// have an accessible name. Run by tests/api/dashboard.rs, which starts keygate and
// passes the addresses and links in the environment; screenshots go to SCREENSHOTS.
"use strict";

const { BASE, check, everyControlIsNamed, shot, setUpAndSignIn, launch } = require("./common.cjs");
const OWNER = { email: process.env.OWNER_EMAIL, setup: process.env.OWNER_SETUP_URL };
const VIEWER = { email: process.env.VIEWER_EMAIL, setup: process.env.VIEWER_SETUP_URL };
const ADMIN_KEY = process.env.ADMIN_KEY;

async function me(key) {
  const response = await fetch(BASE + "/v1/me", { headers: { "X-API-Key": key } });
  return response.status;
}

// Every input, select and button has a name a screen reader can say.

(async () => {
  const browser = await launch();
  try {
    const owner = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await owner.goto(BASE + "/dashboard/keys");
    check(/\/sign-in\?next=/.test(owner.url()), "signed out, the dashboard leads to the sign-in page");
    await shot(owner, "sign-in");

    await setUpAndSignIn(owner, OWNER.email, OWNER.setup);
    check(await owner.getByRole("heading", { name: /^Overview of / }).isVisible(), "signed in, the overview shows");
    check(await owner.getByRole("img", { name: /^API requests: \d+ in all/ }).isVisible(), "the overview charts the requests");
    await everyControlIsNamed(owner, "overview");
    await owner.getByRole("link", { name: "API keys" }).click();
    check(await owner.getByRole("heading", { name: "API keys" }).isVisible(), "the nav leads to the keys page");
    await everyControlIsNamed(owner, "keys page");

    await owner.getByLabel("Name").fill("CI deploy");
    await owner.getByRole("checkbox", { name: "write" }).check();
    await owner.getByRole("button", { name: "Create key" }).click();
    const key = await owner.locator("#new-key").inputValue();
    check(/^kg_live_[0-9A-Za-z]{49}$/.test(key), "the new key is shown once: " + key.slice(0, 12) + "…");
    await shot(owner, "key-created");
    await everyControlIsNamed(owner, "key-created page");
    check((await me(key)) === 200, "the key works from outside the browser (GET /v1/me)");

    await owner.getByRole("link", { name: "Back to the keys" }).click();
    check(!(await owner.content()).includes(key), "the keys page never shows the key again");
    await shot(owner, "keys");
    await owner.getByRole("link", { name: "CI deploy" }).click();
    check(await owner.getByRole("img", { name: /^Requests with this key: \d+ in all/ }).isVisible(), "the key's page charts its usage");
    await everyControlIsNamed(owner, "key page");
    await owner.getByRole("checkbox", { name: "write" }).uncheck();
    await owner.getByRole("button", { name: "Save changes" }).click();
    await owner.waitForURL(/notice=saved/);
    const narrowed = await (await fetch(BASE + "/v1/me", { headers: { "X-API-Key": key } })).json();
    check(JSON.stringify(narrowed.scopes) === '["read"]', "narrowed on its page, the key holds only read: " + JSON.stringify(narrowed.scopes));
    await shot(owner, "key-detail");
    await owner.getByRole("link", { name: "← All keys" }).click();
    await owner.getByRole("button", { name: "Rotate CI deploy" }).click();
    const successor = await owner.locator("#new-key").inputValue();
    check(successor !== key && successor.startsWith("kg_live_"), "rotation shows the successor once");
    check((await me(key)) === 401, "the old key stops at once (no overlap chosen)");
    check((await me(successor)) === 200, "the successor works");

    await owner.getByRole("link", { name: "Back to the keys" }).click();
    const row = owner.locator("tr", { hasText: "CI deploy" }).filter({ hasText: "active" });
    await row.getByRole("checkbox", { name: "sure" }).check();
    await row.getByRole("button", { name: "Revoke CI deploy" }).click();
    await owner.waitForURL(/notice=revoked/);
    check((await me(successor)) === 401, "the revoked key is refused");
    await shot(owner, "revoked");

    const policy = await fetch(BASE + "/v1/api-key-policy", {
      method: "PUT",
      headers: { "X-API-Key": ADMIN_KEY, "Content-Type": "application/json" },
      body: JSON.stringify({ max_lifetime: "30d", expiry_required: true }),
    });
    check(policy.status === 200, "an admin sets a key policy through the API (30 days at most)");
    await owner.goto(BASE + "/dashboard/keys");
    const choices = await owner.locator("#expires option").allTextContents();
    check(
      !choices.includes("never") && !choices.includes("in 90 days") && choices.includes("in 30 days"),
      "the expiry choices follow the policy: " + choices.join(", "),
    );
    check(
      await owner.getByText("Your organization's policy: every key must expire within 30 days.").isVisible(),
      "the keys page states the policy beside the choice",
    );
    await everyControlIsNamed(owner, "keys page under a policy");
    await shot(owner, "keys-policy");

    // The counts reach the charts with the next flush (every second here).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await owner.goto(BASE + "/dashboard");
    check(await owner.getByRole("img", { name: /^API requests: [1-9]\d* in all/ }).isVisible(), "the overview counts the requests made");
    await shot(owner, "overview");
    await owner.goto(BASE + "/dashboard/keys");
    await owner.setViewportSize({ width: 390, height: 844 });
    await shot(owner, "keys-phone");
    await owner.goto(BASE + "/dashboard");
    await shot(owner, "overview-phone");
    const overviewFits = await owner.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    check(overviewFits, "the overview fits a phone's width");
    await owner.goto(BASE + "/dashboard/keys");
    const overflow = await owner.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
    check(overflow, "the page fits a phone's width (the table scrolls inside its card)");

    await owner.getByRole("button", { name: "Sign out" }).click();
    await owner.waitForURL(/notice=signed-out/);
    await owner.goto(BASE + "/dashboard/keys");
    check(/\/sign-in/.test(owner.url()), "after signing out the dashboard is closed");

    const viewer = await browser.newPage();
    await setUpAndSignIn(viewer, VIEWER.email, VIEWER.setup);
    await viewer.goto(BASE + "/dashboard/keys");
    check((await viewer.getByRole("button", { name: "Create key" }).count()) === 0, "a viewer has no way to create keys");
    await shot(viewer, "viewer");
  } finally {
    await browser.close();
  }
})().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
