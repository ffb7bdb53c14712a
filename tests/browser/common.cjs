// What every browser script here shares: the checks it prints (`ok - …`, read by the
// Rust test that runs it), the accessible-name check every page must pass, the
// phone-width check, screenshots into SCREENSHOTS, signing in through a set-up link,
// and launching Debian's Chromium through playwright-core (PLAYWRIGHT_CORE).
"use strict";
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const BASE = process.env.KEYGATE_URL;
const PASSWORD = "correct horse battery staple 42";
const SHOTS = process.env.SCREENSHOTS;

function check(condition, what) {
  if (!condition) throw new Error("failed: " + what);
  console.log("ok - " + what);
}

// Every input, select, textarea and button has a name a screen reader can say.
async function everyControlIsNamed(page, where) {
  const unnamed = await page.evaluate(() =>
    Array.from(document.querySelectorAll("input:not([type=hidden]), select, button, textarea"))
      .filter((el) => {
        const labelled = el.labels && el.labels.length > 0 && el.labels[0].textContent.trim() !== "";
        const aria = (el.getAttribute("aria-label") || "").trim() !== "";
        const text = el.tagName === "BUTTON" && el.textContent.trim() !== "";
        return !(labelled || aria || text);
      })
      .map((el) => el.outerHTML.slice(0, 80)));
  check(unnamed.length === 0, where + ": every control has an accessible name " + JSON.stringify(unnamed));
}

async function fitsAPhone(page, where) {
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
  check(fits, where + " fits a phone's width");
  await page.setViewportSize(size);
}

async function shot(page, name) {
  if (SHOTS) await page.screenshot({ path: SHOTS + "/" + name + ".png", fullPage: true });
}

// Opens a set-up link, chooses PASSWORD, and signs in as `email`.
async function setUpAndSignIn(page, email, setupUrl) {
  await page.goto(setupUrl);
  check(!page.url().includes("#"), "the set-up token leaves the address bar");
  await everyControlIsNamed(page, "set-up page");
  await page.getByLabel("New password").fill(PASSWORD);
  await page.getByLabel("Repeat it").fill(PASSWORD);
  await page.getByRole("button", { name: "Set password" }).click();
  await page.waitForURL(/\/sign-in\?notice=password-set/);
  await everyControlIsNamed(page, "sign-in page");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/dashboard$/);
}

function launch() {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
}

module.exports = { BASE, PASSWORD, check, everyControlIsNamed, fitsAPhone, shot, setUpAndSignIn, launch };
