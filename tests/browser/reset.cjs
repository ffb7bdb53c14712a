// "Forgot your password?" in Debian's Chromium, in runs the Rust test
// (tests/api/mail.rs) puts a letter and a clock between: PHASE=ask follows the sign-in
// page's link and asks for a link for EMAIL; PHASE=use opens the mailed RESET_URL,
// chooses a new password, signs in with it and keeps the browser's cookies in
// STATE_FILE; PHASE=expired, after the test moved the server's clock past the idle
// timeout, comes back with those cookies and is sent to sign in again. Prints "ok - …".
"use strict";
const { BASE, check, everyControlIsNamed, fitsAPhone, shot, launch } = require("./common.cjs");

const EMAIL = process.env.EMAIL;
const NEW_PASSWORD = "a quite different long phrase 7";

async function ask(page) {
  await page.goto(BASE + "/sign-in");
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await page.waitForURL(/\/sign-in\/reset$/);
  await everyControlIsNamed(page, "reset form");
  await fitsAPhone(page, "reset form");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "reset-request-phone");
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByLabel("Email").fill(EMAIL);
  await shot(page, "reset-request");
  await page.getByRole("button", { name: "Mail me a link" }).click();
  await page.getByRole("heading", { name: "Check your mail" }).waitFor();
  check(await page.getByText("a link to choose a new password is on its way").isVisible(),
    "the answer says a link is on its way, if the account exists");
  await shot(page, "reset-sent");
}

async function use(page) {
  await page.goto(process.env.RESET_URL);
  check(!page.url().includes("#"), "the reset token leaves the address bar");
  await page.getByLabel("New password").fill(NEW_PASSWORD);
  await page.getByLabel("Repeat it").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Set password" }).click();
  await page.waitForLoadState();
  check(/\/sign-in\?notice=password-set/.test(page.url()),
    "the new password is set: " + page.url() + " " + (await page.locator("main").innerText()));
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/dashboard$/);
  check(true, "signed in with the new password");
  await page.context().storageState({ path: process.env.STATE_FILE });
}

async function expired(page) {
  await page.goto(BASE + "/dashboard/keys");
  await page.waitForURL(/\/sign-in\?next=/);
  check(await page.getByRole("heading", { name: "Sign in" }).isVisible(),
    "an idle session ends: the dashboard asks to sign in again");
  check(await page.getByText("Your session has ended; sign in again.").isVisible(),
    "the sign-in page says the session ended");
  await shot(page, "session-expired");
}

(async () => {
  const browser = await launch();
  try {
    const phase = process.env.PHASE;
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      storageState: phase === "expired" ? process.env.STATE_FILE : undefined,
    });
    const page = await context.newPage();
    if (phase === "ask") await ask(page);
    else if (phase === "use") await use(page);
    else await expired(page);
    console.log("ok - reset phase " + process.env.PHASE + " done");
  } finally {
    await browser.close();
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
