//! The dashboard's pages: one askama template (`templates/`) per struct, rendered
//! with auto-escaping — nothing a person typed reaches a page unescaped.

use askama::Template;
use chrono::NaiveDateTime;

use crate::api_keys::{ApiKey, KeyState};

#[derive(Template)]
#[template(path = "sign_in.html", config = "src/web/askama.toml")]
pub struct SignIn<'a> {
    pub next: &'a str,
    pub email: &'a str,
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
    /// A relay is configured: the page links to the password-reset form.
    pub reset_offered: bool,
}

#[derive(Template)]
#[template(path = "reset_request.html", config = "src/web/askama.toml")]
pub struct ResetRequestPage<'a> {
    pub email: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "second_factor.html", config = "src/web/askama.toml")]
pub struct SecondFactorPage<'a> {
    pub csrf: &'a str,
    pub next: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "setup.html", config = "src/web/askama.toml")]
pub struct SetupPage<'a> {
    pub token: &'a str,
    pub error: Option<&'a str>,
}

/// The consent page of the authorization endpoint (`web::authorize`).
#[derive(Template)]
#[template(path = "consent.html", config = "src/web/askama.toml")]
pub struct ConsentPage<'a> {
    pub csrf: &'a str,
    pub app_name: &'a str,
    pub app_org: &'a str,
    /// The app belongs to the organization the person acts in.
    pub same_org: bool,
    pub user_email: &'a str,
    pub org_name: &'a str,
    /// Each scope with what it lets the app do.
    pub scopes: Vec<(&'a str, &'static str)>,
    pub resource: Option<&'a str>,
    /// Where the person will be sent back: the redirect URI's host (or scheme, for
    /// an app's own scheme).
    pub redirect_host: &'a str,
    /// The authorization request, posted back with the decision.
    pub fields: Vec<(&'a str, &'a str)>,
}

#[derive(Template)]
#[template(path = "message.html", config = "src/web/askama.toml")]
pub struct Message<'a> {
    pub heading: &'a str,
    pub text: &'a str,
    pub link: &'a str,
    pub link_text: &'a str,
}

#[derive(Template)]
#[template(path = "keys.html", config = "src/web/askama.toml")]
pub struct Keys<'a> {
    pub nav: Nav<'a>,
    pub may_write: bool,
    /// The scopes the person may give a key, and whether the form ticks it.
    pub grantable: Vec<(&'a str, bool)>,
    /// The expiry presets the organization's key policy allows: (value, label, selected).
    pub expiry_choices: Vec<(String, String, bool)>,
    /// The organization's key policy in words, when it has one.
    pub policy_note: Option<String>,
    pub keys: Vec<KeyRow>,
    /// The `after` of the next page, if there is one.
    pub next_cursor: Option<String>,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "key_created.html", config = "src/web/askama.toml")]
pub struct KeyCreated<'a> {
    pub nav: Nav<'a>,
    pub heading: &'a str,
    pub name: &'a str,
    pub scopes: &'a str,
    pub key: &'a str,
}

#[derive(Template)]
#[template(path = "key.html", config = "src/web/askama.toml")]
pub struct KeyDetail<'a> {
    pub nav: Nav<'a>,
    /// Whether the person may change this key (their role, and the key still live).
    pub may_write: bool,
    pub key: KeyRow,
    pub environment: String,
    /// The key's scopes, each a box the narrowing form ticks.
    pub scopes: Vec<String>,
    /// Whether the chart shows 7 days (else 24 hours).
    pub week: bool,
    pub usage: super::chart::Chart,
    pub error: Option<&'a str>,
    pub notice: Option<&'a str>,
}

/// One row of the keys table, as shown: masked, times in UTC, a status word.
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub masked: String,
    pub scopes: String,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: String,
    pub expires_at: String,
    /// `active`, `expiring` (within 7 days), `rate-limited` (refused for its rate
    /// limit in the last minute), `expired` or `revoked`.
    pub status: &'static str,
    /// Whether it can still be rotated or revoked.
    pub live: bool,
}

impl KeyRow {
    pub fn new(key: &ApiKey, now: NaiveDateTime, rate_limited: bool) -> Self {
        let shown = |t: Option<NaiveDateTime>, none: &str| t.map_or_else(|| none.to_owned(), utc);
        let (status, live) = match key.state(now) {
            KeyState::Revoked(_) => ("revoked", false),
            KeyState::Expired(_) => ("expired", false),
            KeyState::Active
                if key
                    .expires_at
                    .is_some_and(|at| at - now <= chrono::Duration::days(7)) =>
            {
                ("expiring", true)
            }
            KeyState::Active if rate_limited => ("rate-limited", true),
            KeyState::Active => ("active", true),
        };
        Self {
            id: key.id.to_string(),
            name: key.name.clone(),
            masked: key.masked(),
            scopes: key.scopes.clone(),
            created_by: key.created_by.clone(),
            created_at: utc(key.created_at),
            last_used_at: shown(key.last_used_at, "never"),
            expires_at: shown(key.expires_at, "never"),
            status,
            live: live && key.replaced_by.is_none(),
        }
    }
}

impl KeyRow {
    /// The row with its creator named by their email when a member of the
    /// organization created it (`people`: `users::repo::emails_by_label`); other
    /// creators (`cli`, `key:key_…`) keep their label.
    pub fn named(mut self, people: &std::collections::HashMap<String, String>) -> Self {
        if let Some(email) = people.get(&self.created_by) {
            self.created_by = email.clone();
        }
        self
    }
}

/// `?notice=…`: which confirmation a page shows after the post that redirected to it
/// (each page maps the few words it knows to its sentence; others show nothing).
#[derive(serde::Deserialize)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

/// What the signed-in pages' shared header shows (`signed_in_nav.html`): which
/// section is current, the sign-out form's CSRF token, who is signed in, where, as
/// what — and whether the audit log is offered (only to a role that reads it, so
/// no one is shown a link that answers 403). Built by `Member::nav`; a page that has
/// read fresher values (a renamed organization) overrides them.
pub struct Nav<'a> {
    pub section: &'static str,
    pub csrf: &'a str,
    pub user_email: &'a str,
    pub org_name: &'a str,
    pub role: &'static str,
    pub reads_audit_log: bool,
}

/// A stored (UTC) time as every dashboard page shows it.
pub(super) fn utc(t: NaiveDateTime) -> String {
    t.and_utc().format("%Y-%m-%d %H:%M UTC").to_string()
}
