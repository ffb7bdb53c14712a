//! The organization's API keys in the dashboard: the table, one key's page (its usage
//! chart; rename, narrow its scopes), and the forms that create (the key shown once),
//! rotate (the successor shown once) and revoke a key —
//! each through `api_keys::service`, as the signed-in person's actor, after the
//! origin and CSRF checks and the role's "may manage keys".

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::chart::{self, Chart, Range};
use super::handlers::{cross_site, message, render};
use super::pages::{KeyCreated, KeyDetail, KeyRow, Keys};
use super::security::see_other;
use super::session::Member;
use super::DashboardSettings;
use crate::api_keys::policy::{self, KeyPolicy};
use crate::api_keys::service::{self as keys, KeyError, KeyUpdate};
use crate::api_keys::{Environment, KeyRequest, KeyRequestError};
use crate::clock::Clock;
use crate::ids::ApiKeyId;
use crate::limits::RateLimits;
use crate::store::Store;
use crate::usage::report::{self, Subject};

/// Keys shown per page of the table.
const KEYS_PER_PAGE: i64 = 50;

#[derive(Deserialize)]
pub(super) struct KeysQuery {
    notice: Option<String>,
    /// The last key id of the previous page.
    after: Option<String>,
}

/// GET /dashboard/keys — the organization's keys, masked.
pub(super) async fn keys_page(
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    limits: web::Data<RateLimits>,
    query: web::Query<KeysQuery>,
) -> HttpResponse {
    let notice = match query.notice.as_deref() {
        Some("revoked") => Some("The key is revoked: it stops working on the next request."),
        _ => None,
    };
    keys_table(
        &member,
        &settings,
        &store,
        &clock,
        Table {
            status: StatusCode::OK,
            error: None,
            notice,
            after: query.after.as_deref(),
            limits: Some(&limits),
        },
    )
    .await
}

/// What the keys page shows besides the table: its status, a refusal or a notice, and
/// where the table starts (`after`: the last key id of the previous page).
struct Table<'a> {
    status: StatusCode,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    after: Option<&'a str>,
    /// To mark the keys this instance refused for their rate limit in the last minute
    /// (the page itself; a form's refusal shows the table without it).
    limits: Option<&'a RateLimits>,
}

async fn keys_table(
    member: &Member,
    settings: &DashboardSettings,
    store: &Store,
    clock: &web::Data<dyn Clock>,
    table: Table<'_>,
) -> HttpResponse {
    let Table {
        status,
        error,
        notice,
        after,
        limits,
    } = table;
    let org_id = member.session.membership.org_id.clone();
    // An `after` that is no key id starts at the beginning; one more row than shown
    // tells whether there is a next page.
    let after = after
        .filter(|id| crate::tokens::TokenKind::ApiKeyId.is_id(id))
        .map(ApiKeyId::from);
    let listed = store
        .read(move |tx| {
            let page =
                crate::api_keys::repo::list(tx, Some(&org_id), after.as_ref(), KEYS_PER_PAGE + 1)?;
            let people = crate::users::repo::emails_by_label(tx, &org_id)?;
            Ok::<_, crate::store::StoreError>((page, policy::policy_of(tx, &org_id)?, people))
        })
        .await;
    let Ok((listed, policy, people)) = listed else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "keygate cannot read the keys right now.",
            "/dashboard/keys",
        );
    };
    let (listed, next_cursor) = crate::api::split_page(listed, KEYS_PER_PAGE, |k| k.id.as_str());
    let now = clock.now().naive_utc();
    let role = member.session.membership.role();
    // The scopes the person may give a key; `read` is ticked to begin with.
    let within = role.scopes_within(&settings.known_scopes);
    let grantable: Vec<(&str, bool)> = within
        .iter()
        .map(|scope| (scope, scope == "read"))
        .collect();
    render(
        status,
        Keys {
            nav: member.nav("keys"),
            may_write: role.may_manage_keys(),
            grantable,
            expiry_choices: expiry_choices(&policy),
            policy_note: (policy != KeyPolicy::default()).then(|| policy.describe()),
            next_cursor,
            keys: listed
                .iter()
                .map(|k| {
                    let limited = limits.is_some_and(|l| l.recently_limited(k.id.as_str()));
                    KeyRow::new(k, now, limited).named(&people)
                })
                .collect(),
            error,
            notice,
        },
    )
}

/// The create form's expiry presets the organization's policy allows, as (value,
/// label, selected): 90 days is chosen when allowed, else the longest allowed.
fn expiry_choices(policy: &KeyPolicy) -> Vec<(String, String, bool)> {
    const DAY: u64 = 86_400;
    let presets = [7, 30, 90, 365].map(|days| std::time::Duration::from_secs(days * DAY));
    let max = policy.max_lifetime;
    let mut choices: Vec<(String, String)> = Vec::new();
    if max.is_none() && !policy.expiry_required {
        choices.push((String::new(), "never".to_owned()));
    }
    for preset in presets.iter().filter(|p| max.is_none_or(|max| **p <= max)) {
        let days = preset.as_secs() / DAY;
        let label = if days == 365 {
            "in a year".to_owned()
        } else {
            format!("in {days} days")
        };
        choices.push((format!("{days}d"), label));
    }
    if let Some(max) = max.filter(|max| !presets.contains(max)) {
        let label = format!("in {} (the maximum)", policy::in_words(max));
        choices.push((format!("{}s", max.as_secs()), label));
    }
    let chosen = choices
        .iter()
        .position(|(value, _)| value == "90d")
        .unwrap_or(choices.len().saturating_sub(1));
    choices
        .into_iter()
        .enumerate()
        .map(|(i, (value, label))| (value, label, i == chosen))
        .collect()
}

/// Form fields, repeated ones kept (`scope=read&scope=write`).
pub(super) fn fields(body: &web::Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(super) fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// What a key use case's refusal says on the page.
fn refusal(error: &KeyError) -> (StatusCode, String) {
    match error {
        KeyError::Request(error) => (StatusCode::BAD_REQUEST, error.to_string()),
        KeyError::Authority(error) => (StatusCode::FORBIDDEN, error.to_string()),
        KeyError::Policy(error) => (StatusCode::BAD_REQUEST, error.to_string()),
        KeyError::NotFound => (StatusCode::NOT_FOUND, "No such key.".to_owned()),
        KeyError::Conflict(why) => (StatusCode::CONFLICT, (*why).to_owned()),
        KeyError::Random(_) | KeyError::Store(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "keygate cannot change keys right now; try again shortly.".to_owned(),
        ),
    }
}

/// The checks of every keys post — same origin, the session's CSRF token, a role that
/// manages keys — answered with the refusal's page, or `None` when all pass.
fn refusal_of_post(
    req: &HttpRequest,
    settings: &DashboardSettings,
    member: &Member,
    csrf: Option<&str>,
) -> Option<HttpResponse> {
    if !member.posted_from_own_page(req, &settings.issuer, csrf) {
        return Some(cross_site());
    }
    if !member.session.membership.role().may_manage_keys() {
        return Some(message(
            StatusCode::FORBIDDEN,
            "Read only",
            "Your role in this organization reads; it does not change keys.",
            "/dashboard/keys",
        ));
    }
    None
}

/// POST /dashboard/keys — creates a key and shows it, this once.
pub(super) async fn create_key(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    body: web::Bytes,
) -> HttpResponse {
    let form = fields(&body);
    if let Some(page) = refusal_of_post(&req, &settings, &member, field(&form, "csrf")) {
        return page;
    }
    let expires_in = match field(&form, "expires").filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => match crate::config::parse_duration(text) {
            Ok(duration) => Some(duration),
            Err(_) => {
                let error = KeyError::Request(KeyRequestError::ExpiresIn);
                return refused(&member, &settings, &store, &clock, &error).await;
            }
        },
    };
    let request = KeyRequest {
        name: field(&form, "name").unwrap_or_default().to_owned(),
        scopes: form
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .collect(),
        environment: Some(
            field(&form, "environment")
                .and_then(Environment::parse)
                .unwrap_or(Environment::Live),
        ),
        expires_in,
        rate_limit_per_minute: None,
    };
    let (actor, org_id) = (member.actor(), member.session.membership.org_id.clone());
    let (known, now) = (settings.known_scopes.clone(), clock.now().naive_utc());
    let created = store
        .write(move |tx| keys::create(tx, &actor, &org_id, request, &known, now))
        .await;
    match created {
        Ok(issued) => shown_once(&member, "Your new API key", &issued),
        Err(error) => refused(&member, &settings, &store, &clock, &error).await,
    }
}

/// The keys page again, saying why a use case refused.
async fn refused(
    member: &Member,
    settings: &DashboardSettings,
    store: &Store,
    clock: &web::Data<dyn Clock>,
    error: &KeyError,
) -> HttpResponse {
    let (status, text) = refusal(error);
    let table = Table {
        status,
        error: Some(&text),
        notice: None,
        after: None,
        limits: None,
    };
    keys_table(member, settings, store, clock, table).await
}

fn shown_once(member: &Member, heading: &str, issued: &crate::api_keys::IssuedKey) -> HttpResponse {
    render(
        StatusCode::OK,
        KeyCreated {
            nav: member.nav("keys"),
            heading,
            name: &issued.row.name,
            scopes: &issued.row.scopes,
            key: issued.key.expose(),
        },
    )
}

/// POST /dashboard/keys/{id}/revoke — with the confirmation box ticked.
pub(super) async fn revoke_key(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form = fields(&body);
    if let Some(page) = refusal_of_post(&req, &settings, &member, field(&form, "csrf")) {
        return page;
    }
    if field(&form, "confirm") != Some("yes") {
        let text = "Tick the box to confirm the revocation.";
        return keys_table(
            &member,
            &settings,
            &store,
            &clock,
            Table {
                status: StatusCode::BAD_REQUEST,
                error: Some(text),
                notice: None,
                after: None,
                limits: None,
            },
        )
        .await;
    }
    let (actor, now) = (member.actor(), clock.now().naive_utc());
    let revoked = store
        .write(move |tx| keys::revoke(tx, &actor, &ApiKeyId::from(id.into_inner()), now))
        .await;
    match revoked {
        Ok(_) => see_other("/dashboard/keys?notice=revoked").finish(),
        Err(error) => refused(&member, &settings, &store, &clock, &error).await,
    }
}

/// POST /dashboard/keys/{id}/rotate — the successor is shown once; the old key keeps
/// working for the chosen overlap.
pub(super) async fn rotate_key(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form = fields(&body);
    if let Some(page) = refusal_of_post(&req, &settings, &member, field(&form, "csrf")) {
        return page;
    }
    let overlap = match field(&form, "overlap").filter(|t| !t.is_empty()) {
        None => Duration::ZERO,
        Some(text) => crate::config::parse_duration(text).unwrap_or(Duration::MAX),
    };
    let (actor, now) = (member.actor(), clock.now().naive_utc());
    let rotated = store
        .write(move |tx| keys::rotate(tx, &actor, &ApiKeyId::from(id.into_inner()), overlap, now))
        .await;
    match rotated {
        Ok(issued) => shown_once(&member, "Your rotated API key", &issued),
        Err(error) => refused(&member, &settings, &store, &clock, &error).await,
    }
}

#[derive(Deserialize)]
pub(super) struct KeyQuery {
    range: Option<String>,
    notice: Option<String>,
}

/// GET /dashboard/keys/{id}[?range=24h|7d] — one key: what it is, its usage by
/// status class, and the forms that rename it, narrow its scopes, rotate and revoke it.
pub(super) async fn key_page(
    member: Member,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    limits: web::Data<RateLimits>,
    id: web::Path<String>,
    query: web::Query<KeyQuery>,
) -> HttpResponse {
    let Some(range) = Range::parse(query.range.as_deref()) else {
        return message(
            StatusCode::BAD_REQUEST,
            "No such range",
            "A key's usage is shown for the last 24 hours (24h) or the last 7 days (7d).",
            "/dashboard/keys",
        );
    };
    let notice = match query.notice.as_deref() {
        Some("saved") => Some("Saved: the key works with its new name and scopes at once."),
        _ => None,
    };
    key_detail(
        &member,
        &store,
        &clock,
        &ApiKeyId::from(id.into_inner()),
        range,
        Outcome {
            status: StatusCode::OK,
            error: None,
            notice,
            limits: Some(&limits),
        },
    )
    .await
}

/// How the key page answers: its status and a refusal or a notice.
struct Outcome<'a> {
    status: StatusCode,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    /// As `Table::limits`.
    limits: Option<&'a RateLimits>,
}

async fn key_detail(
    member: &Member,
    store: &Store,
    clock: &web::Data<dyn Clock>,
    id: &ApiKeyId,
    range: Range,
    outcome: Outcome<'_>,
) -> HttpResponse {
    let now = clock.now();
    let window = range.window(now);
    let (actor, org_id, id) = (
        member.actor(),
        member.session.membership.org_id.clone(),
        id.clone(),
    );
    let found = store
        .read(move |tx| {
            let Some(key) = keys::find(tx, &actor, &id)? else {
                return Ok(None);
            };
            let periods = report::subject_periods(tx, &org_id, &Subject::Key(id), &window)?;
            let people = crate::users::repo::emails_by_label(tx, &org_id)?;
            Ok::<_, crate::store::StoreError>(Some((key, periods.unwrap_or_default(), people)))
        })
        .await;
    let (key, periods, people) = match found {
        Ok(Some(found)) => found,
        // Another organization's key, or none: the same page, as the API's 404.
        Ok(None) => {
            return message(
                StatusCode::NOT_FOUND,
                "No such key",
                "There is no such key in this organization.",
                "/dashboard/keys",
            )
        }
        Err(_) => {
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "keygate cannot read the key right now.",
                "/dashboard/keys",
            )
        }
    };
    let role = member.session.membership.role();
    let limited = outcome
        .limits
        .is_some_and(|l| l.recently_limited(key.id.as_str()));
    let row = KeyRow::new(&key, now.naive_utc(), limited).named(&people);
    render(
        outcome.status,
        KeyDetail {
            nav: member.nav("keys"),
            may_write: role.may_manage_keys() && row.live,
            scopes: key.scope_set().iter().map(str::to_owned).collect(),
            environment: key.environment.clone(),
            key: row,
            week: range == Range::Week,
            usage: Chart::new(
                "key-usage",
                "Requests with this key",
                &periods,
                &window,
                &chart::REQUESTS,
            ),
            error: outcome.error,
            notice: outcome.notice,
        },
    )
}

/// POST /dashboard/keys/{id} — renames the key and narrows its scopes to those
/// ticked (a scope it does not have cannot be added: that is a new key).
pub(super) async fn update_key(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form = fields(&body);
    if let Some(page) = refusal_of_post(&req, &settings, &member, field(&form, "csrf")) {
        return page;
    }
    let id = ApiKeyId::from(id.into_inner());
    let update = KeyUpdate {
        name: Some(field(&form, "name").unwrap_or_default().to_owned()),
        scopes: Some(
            form.iter()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v.clone())
                .collect(),
        ),
        rate_limit_per_minute: None,
    };
    let (actor, known, now) = (
        member.actor(),
        settings.known_scopes.clone(),
        clock.now().naive_utc(),
    );
    let updated = {
        let id = id.clone();
        store
            .write(move |tx| keys::update(tx, &actor, &id, update, &known, now))
            .await
    };
    match updated {
        Ok(key) => see_other(&format!("/dashboard/keys/{}?notice=saved", key.id)).finish(),
        Err(error) => {
            let (status, text) = refusal(&error);
            let outcome = Outcome {
                status,
                error: Some(&text),
                notice: None,
                limits: None,
            };
            key_detail(&member, &store, &clock, &id, Range::Day, outcome).await
        }
    }
}
