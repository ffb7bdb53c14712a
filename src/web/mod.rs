//! The dashboard: server-rendered HTML for people, served by `keygate serve` itself —
//! signing in, setting a password through a one-time set-up link, and the
//! organization's API keys (create and see the key once, rotate, revoke). Templates
//! are compiled into the binary (askama, `templates/`), with one stylesheet and two
//! small scripts (`assets/`) and no inline script, which the CSP forbids. Every page
//! is one more caller of the same use cases as the API and the CLI (`users`,
//! `api_keys::service`), as the signed-in person's `Actor`.
//!
//! Its parts: `handlers` (routes; signing in and out, set-up), `overview` (the first
//! page: usage, refusals, what expires, latest events), `keys` (the keys pages),
//! `apps` (the OAuth applications' pages), `members` (the organization's people), `account` (the person's own
//! password, sessions and second factor),
//! `password_reset` ("forgot your password?", when mail is configured),
//! `authorize` (the OAuth authorization endpoint's sign-in and consent pages),
//! `consents` (the authorizations people gave apps, listed and revoked),
//! `audit` (the audit log's page), `chart`
//! (usage as inline SVG), `pages` (the templates' data),
//! `session` (the cookie, the CSRF token, the `Member` extractor), `security`
//! (headers, origin checks, safe redirects), `assets`.

pub mod account;
pub mod apps;
pub mod assets;
pub mod audit;
pub mod authorize;
pub mod chart;
pub mod consents;
pub mod handlers;
pub mod keys;
pub mod members;
pub mod overview;
pub mod pages;
pub mod password_reset;
pub mod security;
pub mod session;
pub mod settings;

use std::time::Duration;

use crate::config::{Issuer, Settings};
use crate::scope::ScopeSet;

/// What the dashboard needs of the settings, built once at start-up.
#[derive(Clone, Debug)]
pub struct DashboardSettings {
    pub issuer: Issuer,
    pub known_scopes: ScopeSet,
    /// The `aud` of a token whose request names no resource (the authorization
    /// endpoint checks a named one against the app's).
    pub default_audience: String,
    pub session_idle_timeout: Duration,
    pub session_lifetime: Duration,
}

impl DashboardSettings {
    pub fn new(settings: &Settings) -> Self {
        Self {
            issuer: settings.issuer.clone(),
            known_scopes: settings.scopes.clone(),
            default_audience: settings.audience().to_owned(),
            session_idle_timeout: settings.session_idle_timeout,
            session_lifetime: settings.session_lifetime,
        }
    }
}
