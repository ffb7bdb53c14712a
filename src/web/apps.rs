//! The organization's OAuth applications (clients) in the dashboard: the list, the
//! register form (the `client_id` and the secret shown once), an application's page —
//! its settings and their edit form, its token issuance per hour and per day (an SVG
//! drawn here, from the usage meter's counts), the secret rotation (the new secret
//! shown once) and the disable form. Every change goes through `clients::service`, as
//! the signed-in person's actor, after the origin and CSRF checks and the role's
//! "may manage clients"; another organization's application is a 404. What the pages
//! show (templates' data, rows, form choices) is `views`'.

mod views;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;
use serde::Deserialize;

use super::chart::{self, Chart, Range};
use super::handlers::{cross_site, message, render};
use super::keys::{field, fields};
use super::pages::NoticeQuery;
use super::security::see_other;
use super::session::Member;
use super::DashboardSettings;
use crate::clients::model::{ClientRegistration, ClientUpdate, GrantType};
use crate::clients::service::{self, ClientError, IssuedClient, SecretOverlap};
use crate::clock::Clock;
use crate::config::CredentialPolicy;
use crate::ids::ClientId;
use crate::store::{Store, StoreError};
use crate::tokens::TokenKind;
use crate::usage::report::{self, Subject};
use views::{
    chosen_duration, lifetime_choices, utc, AppCreated, AppDetail, AppRow, AppsPage, LIFETIMES,
    OVERLAPS,
};

/// Applications shown per page of the list.
const APPS_PER_PAGE: i64 = 50;

/// The routes of `/dashboard/apps`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard/apps", web::get().to(apps_page))
        .route("/dashboard/apps", web::post().to(register_app))
        .route("/dashboard/apps/{id}", web::get().to(app_page))
        .route("/dashboard/apps/{id}", web::post().to(edit_app))
        .route(
            "/dashboard/apps/{id}/rotate",
            web::post().to(rotate_app_secret),
        )
        .route("/dashboard/apps/{id}/disable", web::post().to(disable_app));
}

/// The configured scopes the person holds (their role's), which are all the forms
/// offer: the use cases refuse more (`Actor::check_scopes`).
fn held_scopes(member: &Member, settings: &DashboardSettings) -> crate::scope::ScopeSet {
    let own = member.session.membership.role().scopes();
    let text = settings
        .known_scopes
        .iter()
        .filter(|s| own.contains(s))
        .collect::<Vec<_>>()
        .join(" ");
    crate::scope::ScopeSet::parse(&text).unwrap_or_default()
}

/// What a client use case's refusal says on a page.
fn refusal(error: &ClientError) -> (StatusCode, String) {
    match error {
        ClientError::Invalid(error) => (StatusCode::BAD_REQUEST, error.to_string()),
        ClientError::Authority(error) => (StatusCode::FORBIDDEN, error.to_string()),
        ClientError::Widening(_) | ClientError::Overlap => {
            (StatusCode::BAD_REQUEST, error.to_string())
        }
        ClientError::NotFound => (StatusCode::NOT_FOUND, "No such application.".to_owned()),
        ClientError::Conflict(why) => (StatusCode::CONFLICT, (*why).to_owned()),
        ClientError::Hash(_) | ClientError::Random(_) | ClientError::Store(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "keygate cannot change applications right now; try again shortly.".to_owned(),
        ),
    }
}

fn unavailable() -> HttpResponse {
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "keygate cannot read the applications right now.",
        "/dashboard/apps",
    )
}

fn not_found() -> HttpResponse {
    message(
        StatusCode::NOT_FOUND,
        "Not found",
        "This organization has no such application.",
        "/dashboard/apps",
    )
}

/// The checks of every post here — same origin, the session's CSRF token, a role that
/// manages applications — answered with the refusal's page, or `None` when all pass.
fn refusal_of_post(
    req: &HttpRequest,
    settings: &DashboardSettings,
    member: &Member,
    csrf: Option<&str>,
) -> Option<HttpResponse> {
    if !member.posted_from_own_page(req, &settings.issuer, csrf) {
        return Some(cross_site());
    }
    if !member.session.membership.role().may_manage_clients() {
        return Some(message(
            StatusCode::FORBIDDEN,
            "Read only",
            "Your role in this organization reads the applications; an owner or an admin changes them.",
            "/dashboard/apps",
        ));
    }
    None
}

/// The audiences a form lists, one a line or space-separated.
fn audiences_of(form: &[(String, String)]) -> Vec<String> {
    lines_of(form, "audiences")
}

/// A textarea of URIs, one a line (or separated by spaces).
fn lines_of(form: &[(String, String)], name: &str) -> Vec<String> {
    field(form, name)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn repeated(form: &[(String, String)], name: &str) -> Vec<String> {
    form.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

#[derive(Deserialize)]
pub(super) struct AppsQuery {
    /// The last client id of the previous page.
    after: Option<String>,
}

/// GET /dashboard/apps — the organization's applications; the register form for a
/// role that manages them.
async fn apps_page(
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    query: web::Query<AppsQuery>,
) -> HttpResponse {
    let after = query.after.clone();
    list(
        &member,
        &settings,
        &store,
        &clock,
        StatusCode::OK,
        None,
        after,
    )
    .await
}

async fn list(
    member: &Member,
    settings: &DashboardSettings,
    store: &Store,
    clock: &web::Data<dyn Clock>,
    status: StatusCode,
    error: Option<&str>,
    after: Option<String>,
) -> HttpResponse {
    let org_id = member.session.membership.org_id.clone();
    // An `after` that is no client id starts at the beginning; one more row than
    // shown tells whether there is a next page.
    let after = after
        .filter(|id| TokenKind::ClientId.is_id(id))
        .map(ClientId::from);
    let manages = member.session.membership.role().may_manage_clients();
    let listed = store
        .read(move |tx| {
            let apps = crate::clients::repo::page(tx, &org_id, after.as_ref(), APPS_PER_PAGE + 1)?;
            let authorizations = if manages {
                super::consents::rows(tx, &org_id, None)?
            } else {
                Vec::new()
            };
            Ok::<_, StoreError>((apps, authorizations))
        })
        .await;
    let Ok((listed, authorizations)) = listed else {
        return unavailable();
    };
    let (listed, next_cursor) = crate::api::split_page(listed, APPS_PER_PAGE, |c| c.id.as_str());
    let now = clock.now().naive_utc();
    let role = member.session.membership.role();
    let within = held_scopes(member, settings);
    render(
        status,
        AppsPage {
            nav: member.nav("apps"),
            may_write: role.may_manage_clients(),
            grant_types: GrantType::ALL.map(GrantType::as_str),
            grantable: within.iter().map(|s| (s, s == "read")).collect(),
            lifetimes: &LIFETIMES,
            apps: listed.iter().map(|c| AppRow::new(c, now)).collect(),
            authorizations,
            next_cursor,
            error,
        },
    )
}

/// POST /dashboard/apps — registers an application and shows its secret, this once.
async fn register_app(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    policy: web::Data<CredentialPolicy>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    body: web::Bytes,
) -> HttpResponse {
    let form = fields(&body);
    if let Some(page) = refusal_of_post(&req, &settings, &member, field(&form, "csrf")) {
        return page;
    }
    let again = |status, error: String| {
        let (member, settings, store, clock) = (&member, &settings, &store, &clock);
        async move { list(member, settings, store, clock, status, Some(&error), None).await }
    };
    let access_token_ttl = match chosen_duration(field(&form, "lifetime"), "The token lifetime") {
        Ok(ttl) => ttl,
        Err(error) => return again(StatusCode::BAD_REQUEST, error).await,
    };
    let registration = ClientRegistration {
        name: field(&form, "name").unwrap_or_default().to_owned(),
        scope: repeated(&form, "scope").join(" "),
        grant_types: repeated(&form, "grant_type"),
        audiences: audiences_of(&form),
        redirect_uris: lines_of(&form, "redirect_uris"),
        token_endpoint_auth_method: (field(&form, "public") == Some("yes"))
            .then(|| "none".to_owned()),
        access_token_ttl,
        ..ClientRegistration::default()
    };
    let actor = member.actor();
    let org_id = member.session.membership.org_id.clone();
    let draft = match service::draft(&actor, &org_id, registration, &policy, None) {
        Ok(draft) => draft,
        Err(error) => {
            let (status, text) = refusal(&error);
            return again(status, text).await;
        }
    };
    let now = clock.now().naive_utc();
    let issued = store
        .blocking(move |store| {
            // argon2 first, with no connection held.
            let prepared = draft.prepare(now)?;
            store.write(|c| service::register(c, &actor, prepared, now))
        })
        .await;
    match issued {
        Ok(issued) => {
            tracing::info!(client_id = %issued.client.id, actor = %member.actor().label(), "client registered");
            shown_once(&member, "Your new application", &issued, now)
        }
        Err(error) => {
            let (status, text) = refusal(&error);
            again(status, text).await
        }
    }
}

fn shown_once(
    member: &Member,
    heading: &str,
    issued: &IssuedClient,
    now: NaiveDateTime,
) -> HttpResponse {
    render(
        StatusCode::OK,
        AppCreated {
            nav: member.nav("apps"),
            heading,
            name: &issued.client.name,
            client_id: issued.client.id.as_str(),
            secret: issued.secret.as_ref().map(|s| s.expose()),
            previous_until: issued
                .client
                .previous_secret_expires_at
                .filter(|until| *until > now)
                .map(utc),
        },
    )
}

/// GET /dashboard/apps/{id} — an application of the organization: its settings, its
/// token issuance, and (for a role that manages them) the edit, rotate and disable
/// forms. Another organization's is a 404.
async fn app_page(
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    id: web::Path<String>,
    query: web::Query<NoticeQuery>,
) -> HttpResponse {
    let notice = match query.notice.as_deref() {
        Some("saved") => Some("Saved. Tokens already issued keep their scope until they expire."),
        Some("disabled") => {
            Some("The application is disabled: its secret stopped working and its refresh tokens are revoked.")
        }
        _ => None,
    };
    let id = ClientId::from(id.into_inner());
    detail(
        &member,
        &settings,
        &store,
        &clock,
        &id,
        StatusCode::OK,
        None,
        notice,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn detail(
    member: &Member,
    settings: &DashboardSettings,
    store: &Store,
    clock: &web::Data<dyn Clock>,
    id: &ClientId,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> HttpResponse {
    let at = clock.now();
    let now = at.naive_utc();
    let (day, week) = (Range::Day.window(at), Range::Week.window(at));
    let (actor, id) = (member.actor(), id.clone());
    let found = store
        .read(move |tx| {
            let Some(client) = service::find(tx, &actor, &id)? else {
                return Ok(None);
            };
            let subject = Subject::Client(client.id.clone());
            let mut periods = |window| {
                report::subject_periods(tx, &client.org_id, &subject, window)
                    .map(Option::unwrap_or_default)
            };
            let counts = (periods(&day)?, periods(&week)?);
            Ok::<_, StoreError>(Some((client, counts)))
        })
        .await;
    let (client, counts) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(_) => return unavailable(),
    };
    let role = member.session.membership.role();
    let held = client.allowed_scopes();
    let within = held_scopes(member, settings);
    let scope_choices = within
        .iter()
        .map(|s| (s, held.contains(s)))
        .collect::<Vec<_>>();
    let lifetimes = lifetime_choices(client.access_token_ttl());
    let hourly = Chart::new(
        "tokens-24h",
        "Tokens, last 24 hours",
        &counts.0,
        &day,
        &chart::TOKENS,
    );
    let daily = Chart::new(
        "tokens-7d",
        "Tokens, last 7 days",
        &counts.1,
        &week,
        &chart::TOKENS,
    );
    render(
        status,
        AppDetail {
            nav: member.nav("apps"),
            may_write: role.may_manage_clients() && !client.is_disabled(),
            audiences_text: client.registered_audiences().join("\n"),
            redirect_uris_text: client.redirect_uris().collect::<Vec<_>>().join("\n"),
            app: AppRow::new(&client, now),
            scope_choices,
            lifetimes,
            overlaps: &OVERLAPS,
            hourly,
            daily,
            error,
            notice,
        },
    )
}

/// The application's page again, saying why a use case refused (a 404 for one the
/// organization does not have).
async fn refused(
    member: &Member,
    settings: &DashboardSettings,
    store: &Store,
    clock: &web::Data<dyn Clock>,
    id: &ClientId,
    error: &ClientError,
) -> HttpResponse {
    let (status, text) = refusal(error);
    if status == StatusCode::NOT_FOUND {
        return not_found();
    }
    detail(
        member,
        settings,
        store,
        clock,
        id,
        status,
        Some(&text),
        None,
    )
    .await
}

/// POST /dashboard/apps/{id} — changes the name, scopes, audiences and token lifetime
/// through the same use case as `PATCH /v1/clients/{id}` (within the person's own
/// scopes).
#[allow(clippy::too_many_arguments)]
async fn edit_app(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    policy: web::Data<CredentialPolicy>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form = fields(&body);
    if let Some(page) = refusal_of_post(&req, &settings, &member, field(&form, "csrf")) {
        return page;
    }
    let id = ClientId::from(id.into_inner());
    let access_token_ttl = match chosen_duration(field(&form, "lifetime"), "The token lifetime") {
        Ok(ttl) => ttl,
        Err(error) => {
            let status = StatusCode::BAD_REQUEST;
            return detail(
                &member,
                &settings,
                &store,
                &clock,
                &id,
                status,
                Some(&error),
                None,
            )
            .await;
        }
    };
    let audiences = audiences_of(&form);
    let update = ClientUpdate {
        name: Some(field(&form, "name").unwrap_or_default().to_owned()),
        scope: Some(repeated(&form, "scope").join(" ")),
        // No audience listed: the server's default again.
        audience: audiences.is_empty().then_some(None),
        audiences: Some(audiences),
        redirect_uris: Some(lines_of(&form, "redirect_uris")),
        access_token_ttl,
        ..ClientUpdate::default()
    };
    let (actor, now) = (member.actor(), clock.now().naive_utc());
    let policy = policy.into_inner();
    let target = id.clone();
    let updated = store
        .write(move |tx| service::update(tx, &actor, &target, update, &policy, now))
        .await;
    match updated {
        Ok(client) => see_other(&format!("/dashboard/apps/{}?notice=saved", client.id)).finish(),
        Err(error) => refused(&member, &settings, &store, &clock, &id, &error).await,
    }
}

/// POST /dashboard/apps/{id}/rotate — a new secret, shown once; the old one keeps
/// working for the chosen overlap.
async fn rotate_app_secret(
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
    let id = ClientId::from(id.into_inner());
    let overlap = match chosen_duration(field(&form, "overlap"), "The overlap") {
        Ok(overlap) => SecretOverlap::new(overlap.unwrap_or_default()),
        Err(_) => Err(ClientError::Overlap),
    };
    let overlap = match overlap {
        Ok(overlap) => overlap,
        Err(error) => return refused(&member, &settings, &store, &clock, &id, &error).await,
    };
    let (actor, now, target) = (member.actor(), clock.now().naive_utc(), id.clone());
    let issued = store
        .blocking(move |store| {
            // argon2 first, with no connection held.
            let new = service::new_secret()?;
            store.write(|c| service::rotate_secret(c, &actor, &target, overlap, new, now))
        })
        .await;
    match issued {
        Ok(issued) => {
            tracing::info!(client_id = %issued.client.id, actor = %member.actor().label(), "client secret rotated");
            shown_once(&member, "The application's new secret", &issued, now)
        }
        Err(error) => refused(&member, &settings, &store, &clock, &id, &error).await,
    }
}

/// POST /dashboard/apps/{id}/disable — with the confirmation box ticked.
async fn disable_app(
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
    let id = ClientId::from(id.into_inner());
    if field(&form, "confirm") != Some("yes") {
        let text = "Tick the box to confirm disabling the application.";
        return detail(
            &member,
            &settings,
            &store,
            &clock,
            &id,
            StatusCode::BAD_REQUEST,
            Some(text),
            None,
        )
        .await;
    }
    let (actor, now, target) = (member.actor(), clock.now().naive_utc(), id.clone());
    let disabled = store
        .write(move |tx| service::disable(tx, &actor, &target, None, now))
        .await;
    match disabled {
        Ok(client) => see_other(&format!("/dashboard/apps/{}?notice=disabled", client.id)).finish(),
        Err(error) => refused(&member, &settings, &store, &clock, &id, &error).await,
    }
}
