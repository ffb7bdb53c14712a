//! The organization's settings in the dashboard: its name, its tier (the operator
//! sets it), its API-key policy and whether its members must sign in with a second
//! factor. Everyone signed in reads the page; an owner or admin sees and posts the
//! forms. Every change is one call to the use case `/v1/organization`,
//! `/v1/api-key-policy` and `keygate org` share (`orgs::service`,
//! `api_keys::service::set_policy`), as the signed-in person's actor, after the origin
//! and CSRF checks; the use cases refuse a role without `admin` again.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::handlers::{cross_site, message, render};
use super::pages::{Nav, NoticeQuery};
use super::security::see_other;
use super::session::Member;
use super::DashboardSettings;
use crate::api_keys::policy::{self, KeyPolicy};
use crate::api_keys::service as keys;
use crate::api_keys::KeyError;
use crate::clock::Clock;
use crate::orgs::{service as orgs, OrgError, Organization};
use crate::store::Store;

const DAY: u64 = 86_400;

/// The maximum lifetimes the policy form offers, in days; "none" besides.
const LIFETIME_PRESETS: [u64; 5] = [7, 30, 90, 180, 365];

#[derive(Template)]
#[template(path = "settings.html", config = "src/web/askama.toml")]
struct SettingsPage<'a> {
    nav: Nav<'a>,
    /// Whether the person sees and posts the forms.
    may_manage: bool,
    slug: &'a str,
    tier: &'a str,
    /// (value, label, selected) of the maximum-lifetime choices.
    lifetimes: Vec<(String, String, bool)>,
    expiry_required: bool,
    /// The policy in words.
    policy: String,
    second_factor_required: bool,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

/// The routes of `/dashboard/settings`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard/settings", web::get().to(settings_page))
        .route("/dashboard/settings/name", web::post().to(rename))
        .route(
            "/dashboard/settings/key-policy",
            web::post().to(set_key_policy),
        )
        .route(
            "/dashboard/settings/second-factor",
            web::post().to(set_second_factor),
        );
}

/// GET /dashboard/settings
async fn settings_page(
    member: Member,
    store: web::Data<Store>,
    query: web::Query<NoticeQuery>,
) -> HttpResponse {
    let notice = match query.notice.as_deref() {
        Some("renamed") => Some("The organization is renamed."),
        Some("key-policy") => Some("The API-key policy is saved; new and rotated keys keep to it."),
        Some("second-factor-on") => Some(
            "Members must now sign in with a second factor; those without one are sent to set one up from their next page on.",
        ),
        Some("second-factor-off") => Some("A second factor is now up to each member."),
        _ => None,
    };
    show(&member, &store, StatusCode::OK, notice, None).await
}

async fn show(
    member: &Member,
    store: &Store,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> HttpResponse {
    let (actor, org_id) = (member.actor(), member.session.membership.org_id.clone());
    let read = store
        .read(move |tx| {
            let org = orgs::find(tx, &actor, &org_id).map_err(Refusal::from)?;
            let policy = keys::policy(tx, &actor, &org_id).map_err(Refusal::from)?;
            Ok::<(Organization, KeyPolicy), Refusal>((org, policy))
        })
        .await;
    let Ok((org, key_policy)) = read else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "keygate cannot read the settings right now.",
            "/dashboard/settings",
        );
    };
    let role = member.session.membership.role();
    render(
        status,
        SettingsPage {
            nav: Nav {
                org_name: &org.name,
                ..member.nav("settings")
            },
            may_manage: role.may_manage_members(),
            slug: &org.slug,
            tier: &org.tier,
            lifetimes: lifetime_choices(key_policy.max_lifetime),
            expiry_required: key_policy.expiry_required,
            policy: key_policy.describe(),
            second_factor_required: org.second_factor_required,
            notice,
            error,
        },
    )
}

/// The maximum-lifetime choices: none, the presets, and the organization's own
/// maximum when it is none of them (set through the API); the current one selected.
fn lifetime_choices(current: Option<Duration>) -> Vec<(String, String, bool)> {
    let mut choices = vec![(
        String::new(),
        "no maximum (up to 10 years)".to_owned(),
        current.is_none(),
    )];
    let presets = LIFETIME_PRESETS.map(|days| Duration::from_secs(days * DAY));
    for preset in presets {
        choices.push((
            format!("{}d", preset.as_secs() / DAY),
            policy::in_words(preset),
            current == Some(preset),
        ));
    }
    if let Some(own) = current.filter(|own| !presets.contains(own)) {
        choices.push((format!("{}s", own.as_secs()), policy::in_words(own), true));
    }
    choices
}

/// A use case's refusal as the page says it.
struct Refusal(StatusCode, String);

impl From<OrgError> for Refusal {
    fn from(error: OrgError) -> Self {
        match error {
            OrgError::InvalidName | OrgError::InvalidSlug | OrgError::UnknownTier { .. } => {
                Self(StatusCode::BAD_REQUEST, error.to_string())
            }
            OrgError::Exists(_) => Self(StatusCode::CONFLICT, error.to_string()),
            OrgError::Authority(_) => Self(StatusCode::FORBIDDEN, read_only().to_owned()),
            OrgError::NotFound(_) => Self(
                StatusCode::NOT_FOUND,
                "This organization is not yours to change.".to_owned(),
            ),
            OrgError::Store(_) => unavailable(),
        }
    }
}

impl From<KeyError> for Refusal {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::Policy(_) | KeyError::Request(_) => {
                Self(StatusCode::BAD_REQUEST, error.to_string())
            }
            KeyError::Authority(_) => Self(StatusCode::FORBIDDEN, read_only().to_owned()),
            KeyError::NotFound => Self(
                StatusCode::NOT_FOUND,
                "This organization is not yours to change.".to_owned(),
            ),
            KeyError::Conflict(why) => Self(StatusCode::CONFLICT, why.to_owned()),
            KeyError::Random(_) | KeyError::Store(_) => unavailable(),
        }
    }
}

impl From<crate::store::StoreError> for Refusal {
    fn from(_: crate::store::StoreError) -> Self {
        unavailable()
    }
}

fn unavailable() -> Refusal {
    Refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        "keygate cannot change the settings right now; try again shortly.".to_owned(),
    )
}

fn read_only() -> &'static str {
    "Your role in this organization reads the settings; an owner or an admin changes them."
}

/// The checks of every post here — same origin, the session's CSRF token, a role that
/// changes the settings — answered with the refusal's page, or `None` when all pass.
fn refusal_of_post(
    req: &HttpRequest,
    settings: &DashboardSettings,
    member: &Member,
    csrf: &str,
) -> Option<HttpResponse> {
    if !member.posted_from_own_page(req, &settings.issuer, Some(csrf)) {
        return Some(cross_site());
    }
    if !member.session.membership.role().may_manage_members() {
        return Some(message(
            StatusCode::FORBIDDEN,
            "Read only",
            read_only(),
            "/dashboard/settings",
        ));
    }
    None
}

/// The page again, with the refusal said on it.
async fn refused(member: &Member, store: &Store, refusal: Refusal) -> HttpResponse {
    let Refusal(status, text) = refusal;
    show(member, store, status, None, Some(&text)).await
}

#[derive(Deserialize)]
struct NameForm {
    csrf: String,
    name: String,
}

/// POST /dashboard/settings/name
async fn rename(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    form: web::Form<NameForm>,
) -> HttpResponse {
    let NameForm { csrf, name } = form.into_inner();
    if let Some(page) = refusal_of_post(&req, &settings, &member, &csrf) {
        return page;
    }
    let (actor, org_id) = (member.actor(), member.session.membership.org_id.clone());
    let now = clock.now().naive_utc();
    let renamed = store
        .write(move |tx| orgs::rename(tx, &actor, &org_id, &name, now))
        .await;
    match renamed {
        Ok(_) => see_other("/dashboard/settings?notice=renamed").finish(),
        Err(error) => refused(&member, &store, error.into()).await,
    }
}

#[derive(Deserialize)]
struct KeyPolicyForm {
    csrf: String,
    /// Empty: no maximum; else a duration such as `90d`.
    #[serde(default)]
    max_lifetime: String,
    /// The checkbox: present when ticked.
    expiry_required: Option<String>,
}

/// POST /dashboard/settings/key-policy
async fn set_key_policy(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    form: web::Form<KeyPolicyForm>,
) -> HttpResponse {
    let KeyPolicyForm {
        csrf,
        max_lifetime,
        expiry_required,
    } = form.into_inner();
    if let Some(page) = refusal_of_post(&req, &settings, &member, &csrf) {
        return page;
    }
    let max_lifetime = match max_lifetime.trim() {
        "" => None,
        text => match crate::config::parse_duration(text) {
            Ok(duration) => Some(duration),
            Err(_) => {
                let text = "Choose a maximum lifetime from the list.".to_owned();
                let refusal = Refusal(StatusCode::BAD_REQUEST, text);
                return refused(&member, &store, refusal).await;
            }
        },
    };
    let asked = KeyPolicy {
        max_lifetime,
        expiry_required: expiry_required.is_some(),
    };
    let (actor, org_id) = (member.actor(), member.session.membership.org_id.clone());
    let now = clock.now().naive_utc();
    let set = store
        .write(move |tx| keys::set_policy(tx, &actor, &org_id, asked, now))
        .await;
    match set {
        Ok(_) => see_other("/dashboard/settings?notice=key-policy").finish(),
        Err(error) => refused(&member, &store, error.into()).await,
    }
}

#[derive(Deserialize)]
struct SecondFactorForm {
    csrf: String,
    /// The checkbox: present when ticked.
    required: Option<String>,
}

/// POST /dashboard/settings/second-factor
async fn set_second_factor(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    form: web::Form<SecondFactorForm>,
) -> HttpResponse {
    let SecondFactorForm { csrf, required } = form.into_inner();
    if let Some(page) = refusal_of_post(&req, &settings, &member, &csrf) {
        return page;
    }
    let required = required.is_some();
    // As GitHub asks of an organization's owners: whoever requires a second factor
    // has one, or the next page would send them to enrol before anything else.
    if required && member.session.user.totp_enabled_at.is_none() {
        let text =
            "Set up a second factor on your account page first; then require one of every member.";
        let refusal = Refusal(StatusCode::CONFLICT, text.to_owned());
        return refused(&member, &store, refusal).await;
    }
    let (actor, org_id) = (member.actor(), member.session.membership.org_id.clone());
    let now = clock.now().naive_utc();
    let set = store
        .write(move |tx| orgs::set_second_factor_required(tx, &actor, &org_id, required, now))
        .await;
    match set {
        Ok(_) if required => see_other("/dashboard/settings?notice=second-factor-on").finish(),
        Ok(_) => see_other("/dashboard/settings?notice=second-factor-off").finish(),
        Err(error) => refused(&member, &store, error.into()).await,
    }
}
