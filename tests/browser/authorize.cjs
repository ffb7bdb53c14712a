// The authorization code grant as an app using oauth4webapi (a client library nobody
// here wrote) and a person in Debian's Chromium go through it, run by the Rust test in
// tests/api/authorize_browser.rs: oauth4webapi discovers keygate, makes the PKCE pair
// and `state` and builds the authorization URL; a small HTTP server on 127.0.0.1 is the
// app's redirect URI; the person (EMAIL, not signed in, a set-up link SETUP_URL) signs
// in, sees the consent page and allows; oauth4webapi checks the answer (`state`, RFC
// 9207's `iss`), redeems the code with the verifier and refreshes; the access token
// acts for the person (USER_ID) at /v1/forward-auth and /v1/me; a second request
// comes back without the consent page; a Deny reaches the app as access_denied.
// Prints "ok - …".
"use strict";
const http = require("http");
const path = require("path");
const { createRequire } = require("module");
const { pathToFileURL } = require("url");
const { BASE, PASSWORD, check, everyControlIsNamed, fitsAPhone, shot, launch } = require("./common.cjs");

const CLIENT_ID = process.env.CLIENT_ID;
const USER_ID = process.env.USER_ID;
const EMAIL = process.env.EMAIL;

// oauth4webapi is installed beside playwright-core (.ci/run); it is an ES module.
async function loadOauth4webapi() {
  const from = createRequire(path.join(process.env.PLAYWRIGHT_CORE, "package.json"));
  return import(pathToFileURL(from.resolve("oauth4webapi")).href);
}

// The app's redirect URI: every request to /callback, in order.
function callbackServer() {
  const arrived = [];
  const waiting = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    if (url.pathname !== "/callback") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end("<!doctype html><title>Acme CLI</title><p>Signed in. You can close this tab.</p>");
    const full = new URL(req.url, server.redirectUri);
    if (waiting.length > 0) waiting.shift()(full);
    else arrived.push(full);
  });
  server.next = () =>
    arrived.length > 0
      ? Promise.resolve(arrived.shift())
      : new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no callback within 15 s")), 15000);
        waiting.push((url) => {
          clearTimeout(timer);
          resolve(url);
        });
      });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      server.redirectUri = "http://127.0.0.1:" + server.address().port + "/callback";
      resolve(server);
    }));
}

function claimsOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
}

(async () => {
  const oauth = await loadOauth4webapi();
  const insecure = { [oauth.allowInsecureRequests]: true }; // keygate's issuer: http on loopback
  const issuer = new URL(BASE);
  const as = await oauth.processDiscoveryResponse(
    issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }));
  check(as.authorization_response_iss_parameter_supported === true &&
    (as.code_challenge_methods_supported || []).includes("S256"),
  "oauth4webapi discovers keygate: RFC 9207 iss and PKCE S256 announced");
  const client = { client_id: CLIENT_ID };
  const callbacks = await callbackServer();
  const redirectUri = callbacks.redirectUri;

  // What the app sends the person to, with a fresh verifier and state each time.
  async function authorization(extra = {}) {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const url = new URL(as.authorization_endpoint);
    const params = {
      response_type: "code",
      client_id: CLIENT_ID,
      redirect_uri: redirectUri,
      scope: "read write",
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      ...extra,
    };
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    return { url: url.href, verifier, state };
  }

  // The app's side of a callback: checked by oauth4webapi, then the code redeemed.
  async function redeem(asked, callbackUrl) {
    const params = oauth.validateAuthResponse(as, client, callbackUrl, asked.state);
    const response = await oauth.authorizationCodeGrantRequest(
      as, client, oauth.None(), params, redirectUri, asked.verifier, insecure);
    return { code: params.get("code"), tokens: await oauth.processAuthorizationCodeResponse(as, client, response) };
  }

  const browser = await launch();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();

    // Not signed in: the authorization URL leads to the sign-in page, which keeps it.
    const first = await authorization();
    await page.goto(first.url);
    await page.waitForURL(/\/sign-in\?next=%2Foauth%2Fauthorize/);
    check(await page.getByRole("heading", { name: "Sign in" }).isVisible(),
      "not signed in: the authorization request asks the person to sign in");

    // A new person chooses a password through their set-up link first...
    await page.goto(process.env.SETUP_URL);
    await everyControlIsNamed(page, "set-up page");
    await page.getByLabel("New password").fill(PASSWORD);
    await page.getByLabel("Repeat it").fill(PASSWORD);
    await page.getByRole("button", { name: "Set password" }).click();
    await page.waitForURL(/\/sign-in\?notice=password-set/);

    // ...then the app sends them again, and signing in leads to the consent page.
    await page.goto(first.url);
    await page.waitForURL(/\/sign-in\?next=%2Foauth%2Fauthorize/);
    await everyControlIsNamed(page, "sign-in page (on the way to an app)");
    await page.getByLabel("Email").fill(EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Allow Acme CLI to act for you?" }).waitFor();
    check(page.url().startsWith(BASE + "/oauth/authorize?"), "signed in, back at the authorization request");
    const consent = await page.locator("main").innerText();
    check(["Acme CLI", EMAIL, "read", "write", "127.0.0.1"].every((words) => consent.includes(words)),
      "the consent page names the app, the person and the scopes");
    check(await page.getByRole("button", { name: "Allow" }).isVisible() &&
      await page.getByRole("button", { name: "Deny" }).isVisible(), "the consent page offers Allow and Deny");
    await everyControlIsNamed(page, "consent page");
    await fitsAPhone(page, "consent page");
    await shot(page, "consent");
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, "consent-phone");
    await page.setViewportSize({ width: 1280, height: 900 });

    // Allow: the browser goes to the app's redirect URI with code, state and iss.
    const arriving = callbacks.next();
    await page.getByRole("button", { name: "Allow" }).click();
    const callback = await arriving;
    await page.waitForURL((url) => url.href.startsWith(redirectUri));
    check(["code", "state", "iss"].every((name) => callback.searchParams.has(name)),
      "the callback carries code, state and iss");
    const { code, tokens } = await redeem(first, callback);
    check(true, "oauth4webapi accepts the callback (state and iss)");
    check(code.startsWith("kgac_"), "the code is keygate's (kgac_)");
    check(typeof tokens.access_token === "string" && typeof tokens.refresh_token === "string" &&
      tokens.token_type.toLowerCase() === "bearer", "oauth4webapi redeems the code with the verifier: access and refresh tokens");
    check(tokens.scope === "read write", "the tokens have the scopes allowed");
    const claims = claimsOf(tokens.access_token);
    check(claims.sub === USER_ID && claims.client_id === CLIENT_ID && claims.iss === as.issuer,
      "the access token acts for the person (sub), through the app (client_id): " + JSON.stringify(claims));
    check(claims.aud === BASE || (Array.isArray(claims.aud) && claims.aud.includes(BASE)),
      "the access token is for the default audience: " + JSON.stringify(claims.aud));

    // The token at a gateway's check and at the identity resolver.
    const forward = await oauth.protectedResourceRequest(tokens.access_token, "GET",
      new URL(BASE + "/v1/forward-auth?scope=read&scope=write&audience=" + encodeURIComponent(BASE)),
      undefined, undefined, insecure);
    check(forward.status === 200 &&
      forward.headers.get("x-keygate-subject") === USER_ID &&
      forward.headers.get("x-keygate-client-id") === CLIENT_ID &&
      forward.headers.get("x-keygate-credential") === "access_token" &&
      forward.headers.get("x-keygate-key-id") === "",
    "/v1/forward-auth lets the access token through as the person");
    const me = await oauth.protectedResourceRequest(tokens.access_token, "GET", new URL(BASE + "/v1/me"),
      undefined, undefined, insecure);
    const meBody = await me.json();
    check(me.status === 200 && meBody.subject === USER_ID && meBody.client_id === CLIENT_ID,
      "/v1/me answers 200 for the person: " + JSON.stringify(meBody));

    // Refresh: a new refresh token (rotation), still the person.
    const refreshed = await oauth.processRefreshTokenResponse(as, client,
      await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token, insecure));
    check(typeof refreshed.refresh_token === "string" && refreshed.refresh_token !== tokens.refresh_token,
      "oauth4webapi's refresh grant gets a new refresh token");
    check(claimsOf(refreshed.access_token).sub === USER_ID, "the refreshed access token still acts for the person");
    const meAgain = await oauth.protectedResourceRequest(refreshed.access_token, "GET", new URL(BASE + "/v1/me"),
      undefined, undefined, insecure);
    check(meAgain.status === 200, "/v1/me answers 200 with the refreshed token");

    // The consent is remembered: the next request goes straight back to the app.
    const second = await authorization();
    const secondArriving = callbacks.next();
    const landed = await page.goto(second.url);
    const secondCallback = await secondArriving;
    const hops = [];
    for (let request = landed.request().redirectedFrom(); request; request = request.redirectedFrom()) {
      hops.unshift(request.url());
    }
    check(page.url().startsWith(redirectUri) && hops.length === 1 && hops[0] === second.url,
      "a second authorization comes back without the consent page");
    const again = await redeem(second, secondCallback);
    check(again.code !== code && claimsOf(again.tokens.access_token).sub === USER_ID,
      "its code is a new one, redeemed for the person");

    // prompt=consent asks again; Deny goes back to the app as access_denied.
    const third = await authorization({ prompt: "consent" });
    await page.goto(third.url);
    await page.getByRole("heading", { name: "Allow Acme CLI to act for you?" }).waitFor();
    const denied = callbacks.next();
    await page.getByRole("button", { name: "Deny" }).click();
    const deniedCallback = await denied;
    let refusal = null;
    try {
      oauth.validateAuthResponse(as, client, deniedCallback, third.state);
    } catch (error) {
      refusal = error;
    }
    check(refusal instanceof oauth.AuthorizationResponseError && refusal.error === "access_denied" &&
      deniedCallback.searchParams.get("iss") === as.issuer,
    "Deny reaches the app as access_denied");
    // The account page lists the app; Revoke stops its token at once.
    await page.goto(BASE + "/dashboard/account");
    const listed = page.getByRole("row", { name: /Acme CLI/ });
    check(await listed.isVisible() && (await listed.textContent()).includes("read write"),
      "the account page lists the authorized app with its scopes");
    await everyControlIsNamed(page, "account page with an authorized app");
    await fitsAPhone(page, "account page with an authorized app");
    await shot(page, "account-apps");
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, "account-apps-phone");
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.getByRole("button", { name: "Revoke Acme CLI" }).click();
    await page.waitForURL(/notice=app-revoked/);
    check((await page.textContent("main")).includes("can no longer act for you") &&
      (await page.textContent("main")).includes("No application acts for you"),
    "after Revoke the account page says so and lists no app");
    // oauth4webapi reports the 401's RFC 6750 challenge as an error.
    let challenged = null;
    try {
      await oauth.protectedResourceRequest(again.tokens.access_token, "GET",
        new URL(BASE + "/v1/me"), undefined, undefined, insecure);
    } catch (error) {
      challenged = error;
    }
    check(challenged instanceof oauth.WWWAuthenticateChallengeError && challenged.status === 401 &&
      challenged.cause.some((c) => c.parameters.error === "invalid_token"),
    "the revoked app's access token is refused at once");
    console.log("ok - authorization code flow with oauth4webapi done");
  } finally {
    await browser.close();
    callbacks.close();
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
