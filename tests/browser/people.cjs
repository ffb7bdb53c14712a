// People in a real Chromium (playwright-core, Debian's chromium): an owner invites a
// viewer on the Members page and reads the set-up link from the page once; the viewer
// (a browser of their own) sets a password through it, signs in and finds no way to
// create keys or invite anyone; the owner turns on a second factor on the Account page
// (the key typed into an "authenticator" computed here, RFC 6238), keeps the recovery
// codes, signs out, signs in with the password and a TOTP code, sees their sessions,
// requires a second factor of every member on the Settings page (the viewer is sent to
// set one up), and removes the viewer, whose next page is the sign-in page. Every control on each
// page has an accessible name; the pages fit a phone's width. Run by
// tests/api/members.rs; screenshots go to SCREENSHOTS.
"use strict";
const crypto = require("crypto");
const { BASE, PASSWORD, check, everyControlIsNamed, fitsAPhone, shot, setUpAndSignIn, launch } = require("./common.cjs");

const OWNER = { email: process.env.OWNER_EMAIL, setup: process.env.OWNER_SETUP_URL };
const VIEWER_EMAIL = "vic@example.com";

// RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30 s) of a base32 key, as an app computes it.
function totp(base32, unixSeconds) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/\s+/g, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = crypto.createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(binary).padStart(6, "0");
}

(async () => {
  const browser = await launch();
  try {
    const owner = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await setUpAndSignIn(owner, OWNER.email, OWNER.setup);
    await owner.getByRole("link", { name: "Members" }).click();
    await owner.waitForURL(/\/dashboard\/members$/);
    await everyControlIsNamed(owner, "members page");
    await owner.getByLabel("Email", { exact: true }).fill(VIEWER_EMAIL);
    await owner.getByLabel("Name (optional)").fill("Vic");
    await owner.getByLabel("Role", { exact: true }).selectOption("viewer");
    await owner.getByRole("button", { name: "Invite" }).click();
    const link = await owner.locator("#setup-url").inputValue();
    check(link.startsWith(BASE + "/setup#kgut_"), "the invitation shows a set-up link once");
    await everyControlIsNamed(owner, "invited page");
    await shot(owner, "member-invited");
    await owner.getByRole("link", { name: "Back to the members" }).click();
    check(!(await owner.content()).includes(link.split("#")[1]), "the members page never shows the link again");
    check(await owner.locator("tr", { hasText: VIEWER_EMAIL }).getByText("invited").isVisible(), "the viewer is listed as invited");

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const viewer = await context.newPage();
    await setUpAndSignIn(viewer, VIEWER_EMAIL, link);
    await viewer.goto(BASE + "/dashboard/keys");
    check((await viewer.getByRole("button", { name: "Create key" }).count()) === 0, "the invited viewer has no way to create keys");
    await viewer.goto(BASE + "/dashboard/members");
    check((await viewer.getByRole("button", { name: "Invite" }).count()) === 0, "nor to invite anyone");
    await owner.reload();
    check(await owner.locator("tr", { hasText: VIEWER_EMAIL }).getByText("active").isVisible(), "once signed in, the viewer is active");
    await shot(owner, "members");
    await fitsAPhone(owner, "the members page");

    await owner.getByRole("link", { name: "Account" }).click();
    await everyControlIsNamed(owner, "account page");
    await owner.getByRole("button", { name: "Set up an authenticator app" }).click();
    await everyControlIsNamed(owner, "enrolment page");
    const key = await owner.locator("#totp-secret").inputValue();
    check(/^[A-Z2-7 ]{32,}$/.test(key), "the enrolment shows the key to type into an app");
    await shot(owner, "totp-enrol");
    await owner.getByLabel("Code from the app").fill(totp(key, Date.now() / 1000));
    await owner.getByRole("button", { name: "Turn on" }).click();
    const codes = (await owner.locator("#recovery-codes").inputValue()).split("\n");
    check(codes.length === 10 && /^[2-9A-Z]{5}-[2-9A-Z]{5}$/.test(codes[0]), "ten recovery codes are shown once");
    await shot(owner, "recovery-codes");
    await owner.getByRole("link", { name: "Back to your account" }).click();
    check(await owner.getByText(/An authenticator app \(TOTP\) is on since/).isVisible(), "the account page says the second factor is on");

    await owner.getByRole("button", { name: "Sign out", exact: true }).click();
    await owner.waitForURL(/notice=signed-out/);
    await owner.getByLabel("Email").fill(OWNER.email);
    await owner.getByLabel("Password").fill(PASSWORD);
    await owner.getByRole("button", { name: "Sign in" }).click();
    await owner.waitForURL(/\/sign-in\/second-factor/);
    await everyControlIsNamed(owner, "second-factor page");
    await shot(owner, "second-factor");
    // The enrolment spent this 30-second step's code: wait for the next one.
    const wait = 30 - (Math.floor(Date.now() / 1000) % 30) + 1;
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    await owner.getByLabel("Code").fill(totp(key, Date.now() / 1000));
    await owner.getByRole("button", { name: "Continue" }).click();
    await owner.waitForURL(/\/dashboard$/);
    check(true, "a sign-in with the password and a TOTP code reaches the dashboard");

    await owner.goto(BASE + "/dashboard/account");
    check((await owner.getByRole("button", { name: "Sign out of this session" }).count()) === 1, "the account page lists this session");
    await shot(owner, "account");
    await fitsAPhone(owner, "the account page");

    await owner.getByRole("link", { name: "Settings" }).click();
    await everyControlIsNamed(owner, "settings page");
    await owner.getByLabel("Require a second factor of every member").check();
    await owner.getByRole("button", { name: "Save", exact: true }).click();
    await owner.waitForURL(/\/dashboard\/settings\?notice=/);
    check(await owner.getByLabel("Require a second factor of every member").isChecked(), "the owner requires a second factor of every member");
    await shot(owner, "settings");
    await fitsAPhone(owner, "the settings page");
    await viewer.goto(BASE + "/dashboard/keys");
    check(/\/dashboard\/account\?notice=second-factor-required/.test(viewer.url()), "a member without one is sent to set one up");
    check(await viewer.getByText("requires a second factor").first().isVisible(), "and the account page says why");

    await owner.goto(BASE + "/dashboard/members");
    const row = owner.locator("tr", { hasText: VIEWER_EMAIL });
    await row.getByRole("checkbox", { name: "Confirm removing " + VIEWER_EMAIL }).check();
    await row.getByRole("button", { name: "Remove " + VIEWER_EMAIL }).click();
    await owner.waitForURL(/notice=removed/);
    await viewer.goto(BASE + "/dashboard/keys");
    check(/\/sign-in/.test(viewer.url()), "the removed viewer's next page is the sign-in page");
    await owner.setViewportSize({ width: 390, height: 844 });
    await shot(owner, "members-phone");
    console.log("ok - people managed in a browser");
  } finally {
    await browser.close();
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
