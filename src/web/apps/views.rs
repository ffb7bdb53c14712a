//! What the applications' pages show: their templates' data (`apps.html`,
//! `app_created.html`, `app_detail.html`), an application as a row (never its secret
//! or a hash), and the choices their forms offer.

use crate::web::pages::Nav;
use std::time::Duration;

use askama::Template;
use chrono::NaiveDateTime;

use crate::clients::model::Client;
use crate::web::chart::Chart;

/// The token lifetimes the forms offer (value, label); "" is the server's default.
pub(super) const LIFETIMES: [(&str, &str); 6] = [
    ("", "server default"),
    ("5m", "5 minutes"),
    ("10m", "10 minutes"),
    ("15m", "15 minutes"),
    ("30m", "30 minutes"),
    ("1h", "1 hour"),
];

/// The overlaps the rotate form offers (value, label).
pub(super) const OVERLAPS: [(&str, &str); 4] = [
    ("", "stop now"),
    ("1h", "1 hour"),
    ("24h", "24 hours"),
    ("7d", "7 days"),
];

#[derive(Template)]
#[template(path = "apps.html", config = "src/web/askama.toml")]
pub(super) struct AppsPage<'a> {
    pub(super) nav: Nav<'a>,
    pub(super) may_write: bool,
    /// The grant types the register form offers (`client_credentials` ticked).
    pub(super) grant_types: [&'a str; 3],
    /// The scopes the person may give an application, and whether the form ticks it.
    pub(super) grantable: Vec<(&'a str, bool)>,
    pub(super) lifetimes: &'a [(&'a str, &'a str)],
    pub(super) apps: Vec<AppRow>,
    /// The consents the organization's people gave (for a role that manages apps).
    pub(super) authorizations: Vec<crate::web::consents::ConsentRow>,
    pub(super) next_cursor: Option<String>,
    pub(super) error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "app_created.html", config = "src/web/askama.toml")]
pub(super) struct AppCreated<'a> {
    pub(super) nav: Nav<'a>,
    pub(super) heading: &'a str,
    pub(super) name: &'a str,
    pub(super) client_id: &'a str,
    /// `None` for a public client.
    pub(super) secret: Option<&'a str>,
    /// After a rotation: until when the previous secret keeps working.
    pub(super) previous_until: Option<String>,
}

#[derive(Template)]
#[template(path = "app_detail.html", config = "src/web/askama.toml")]
pub(super) struct AppDetail<'a> {
    pub(super) nav: Nav<'a>,
    pub(super) may_write: bool,
    pub(super) app: AppRow,
    /// The scopes the edit form offers, ticked as the application has them.
    pub(super) scope_choices: Vec<(&'a str, bool)>,
    /// The lifetimes the edit form offers (value, label, selected).
    pub(super) lifetimes: Vec<(String, String, bool)>,
    pub(super) overlaps: &'a [(&'a str, &'a str)],
    pub(super) audiences_text: String,
    /// The redirect URIs, one a line, for the edit form.
    pub(super) redirect_uris_text: String,
    pub(super) hourly: Chart,
    pub(super) daily: Chart,
    pub(super) error: Option<&'a str>,
    pub(super) notice: Option<&'a str>,
}

/// One application as the pages show it: never its secret or a hash.
pub(super) struct AppRow {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) grant_types: String,
    pub(super) scopes: String,
    pub(super) audiences: String,
    /// The registered redirect URIs (empty: none).
    pub(super) redirect_uris: String,
    /// A public client: no secret.
    pub(super) public: bool,
    pub(super) lifetime: String,
    /// `active` or `disabled`.
    pub(super) status: &'static str,
    pub(super) created_at: String,
    pub(super) secret_hint: String,
    /// During a rotation's overlap: when the previous secret stops working.
    pub(super) previous_until: Option<String>,
}

impl AppRow {
    pub(super) fn new(c: &Client, now: NaiveDateTime) -> Self {
        let audiences = c.registered_audiences();
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            grant_types: c.grant_types.clone(),
            scopes: c.allowed_scopes.clone(),
            audiences: if audiences.is_empty() {
                "the server's default".to_owned()
            } else {
                audiences.join(" ")
            },
            redirect_uris: c.redirect_uris().collect::<Vec<_>>().join(" "),
            public: c.is_public(),
            lifetime: c
                .access_token_ttl_secs
                .map_or_else(|| "server default".to_owned(), |s| format!("{s} s")),
            status: if c.is_disabled() {
                "disabled"
            } else {
                "active"
            },
            created_at: utc(c.created_at),
            secret_hint: c
                .secret_hint
                .as_deref()
                .map_or_else(String::new, |hint| format!("…{hint}")),
            previous_until: c
                .previous_secret_expires_at
                .filter(|until| *until > now)
                .map(utc),
        }
    }
}

pub(super) use crate::web::pages::utc;

/// A duration a form chose ("" or absent: `None`), or why not.
pub(super) fn chosen_duration(text: Option<&str>, what: &str) -> Result<Option<Duration>, String> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => crate::config::parse_duration(text)
            .map(Some)
            .map_err(|_| format!("{what} must be a duration such as 10m or 1h")),
    }
}

/// The edit form's lifetimes, the application's own selected: the presets, with its
/// own lifetime added when it is none of them (set through the API or the CLI). "server
/// default" only while it has none: the use case changes a lifetime, it does not
/// remove one.
pub(super) fn lifetime_choices(current: Option<Duration>) -> Vec<(String, String, bool)> {
    let mut choices: Vec<(String, String, bool)> = LIFETIMES
        .iter()
        .filter_map(|(value, label)| {
            let preset = chosen_duration(Some(value), "").ok().flatten();
            if preset.is_none() && current.is_some() {
                return None;
            }
            Some(((*value).to_owned(), (*label).to_owned(), preset == current))
        })
        .collect();
    if let Some(own) = current.filter(|_| !choices.iter().any(|(.., selected)| *selected)) {
        let secs = own.as_secs();
        choices.push((format!("{secs}s"), format!("{secs} seconds (as now)"), true));
    }
    choices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edit_form_offers_the_lifetime_the_app_has() {
        let selected = |choices: Vec<(String, String, bool)>| {
            choices
                .into_iter()
                .filter(|(.., s)| *s)
                .map(|(v, ..)| v)
                .collect::<Vec<_>>()
        };
        assert_eq!(selected(lifetime_choices(None)), [""]);
        let ten = lifetime_choices(Some(Duration::from_secs(600)));
        assert!(!ten.iter().any(|(v, ..)| v.is_empty()), "no server default");
        assert_eq!(selected(ten), ["10m"]);
        let odd = lifetime_choices(Some(Duration::from_secs(420)));
        assert_eq!(
            odd.last().map(|(_, l, _)| l.as_str()),
            Some("420 seconds (as now)")
        );
        assert_eq!(selected(odd), ["420s"]);
    }
}
