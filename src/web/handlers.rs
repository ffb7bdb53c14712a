//! The dashboard's pages and form posts, and their routes. Each post is checked for
//! its origin (and, signed in, its CSRF token), then makes one call to the same use
//! cases as the API and the CLI — `users` for signing in and out and setting a
//! password, `api_keys::service` for keys — and answers with a page or a redirect.

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::pages::{KeyCreated, KeyRow, Keys, Message, SetupPage, SignIn};
use super::security::{page, safe_next, same_origin, see_other};
use super::session::{self, Member};
use super::{assets, DashboardSettings};
use crate::api_keys::service::{self as keys, KeyError};
use crate::api_keys::{Environment, KeyRequest, KeyRequestError};
use crate::argon2_budget::Argon2Budget;
use crate::audit::Source;
use crate::clock::Clock;
use crate::secret::Secret;
use crate::store::Store;
use crate::users::sign_in::SignInOptions;
use crate::users::{self, password, SignInError, UserError};

/// Keys shown per page of the table.
const KEYS_PER_PAGE: i64 = 50;

/// The dashboard's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/assets/{name}", web::get().to(assets::get_asset))
        .route("/sign-in", web::get().to(sign_in_page))
        .route("/sign-in", web::post().to(sign_in))
        .route("/sign-out", web::post().to(sign_out))
        .route("/setup", web::get().to(setup_page))
        .route("/setup", web::post().to(setup))
        .route("/dashboard/keys", web::get().to(keys_page))
        .route("/dashboard/keys", web::post().to(create_key))
        .route("/dashboard/keys/{id}/revoke", web::post().to(revoke_key))
        .route("/dashboard/keys/{id}/rotate", web::post().to(rotate_key));
}

fn render(status: StatusCode, template: impl Template) -> HttpResponse {
    match template.render() {
        Ok(html) => page(status, html),
        Err(error) => {
            tracing::error!(%error, "a dashboard page failed to render");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error".to_owned(),
            )
        }
    }
}

fn message(status: StatusCode, heading: &str, text: &str, link: &str) -> HttpResponse {
    let link_text = if link == "/sign-in" {
        "Sign in"
    } else {
        "Back"
    };
    render(
        status,
        Message {
            heading,
            text,
            link,
            link_text,
        },
    )
}

/// A post that does not come from keygate's own pages.
fn cross_site() -> HttpResponse {
    message(
        StatusCode::FORBIDDEN,
        "Refused",
        "This form was not sent from keygate's own pages.",
        "/",
    )
}

/// GET / — the dashboard (or, signed out, the sign-in page).
async fn home() -> HttpResponse {
    see_other("/dashboard/keys").finish()
}

#[derive(Deserialize)]
struct SignInQuery {
    next: Option<String>,
    notice: Option<String>,
}

/// GET /sign-in
async fn sign_in_page(query: web::Query<SignInQuery>) -> HttpResponse {
    let notice = match query.notice.as_deref() {
        Some("password-set") => Some("Your password is set: sign in with it."),
        Some("signed-out") => Some("You are signed out."),
        _ => None,
    };
    render(
        StatusCode::OK,
        SignIn {
            next: safe_next(query.next.as_deref()),
            email: "",
            notice,
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct SignInForm {
    email: String,
    password: String,
    next: Option<String>,
}

/// POST /sign-in — throttled per account and per source; an unknown email and a
/// wrong password get the same answer after the same work.
async fn sign_in(
    req: HttpRequest,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    budget: web::Data<Argon2Budget>,
    clock: web::Data<dyn Clock>,
    form: web::Form<SignInForm>,
) -> HttpResponse {
    if !same_origin(&req, &settings.issuer) {
        return cross_site();
    }
    let SignInForm {
        email,
        password,
        next,
    } = form.into_inner();
    let next = safe_next(next.as_deref()).to_owned();
    let password = Secret::new(password);
    let previous = session::token_of(&req, &settings.issuer);
    let options = SignInOptions {
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        previous_session: previous.as_deref(),
        lifetime: Some(settings.session_lifetime),
    };
    let source = Source::of(&req);
    let now = clock.now().naive_utc();
    let signed_in =
        users::sign_in::sign_in_with(&store, &budget, &email, &password, &source, options, now)
            .await;
    let refused = |status, error: &str| {
        render(
            status,
            SignIn {
                next: &next,
                email: &email,
                notice: None,
                error: Some(error),
            },
        )
    };
    match signed_in {
        Ok(signed_in) => see_other(&next)
            .insert_header((
                header::SET_COOKIE,
                session::set_cookie(&settings.issuer, signed_in.session_token.expose()),
            ))
            .finish(),
        Err(SignInError::Invalid) => refused(
            StatusCode::UNAUTHORIZED,
            "The email or the password is wrong.",
        ),
        Err(SignInError::Throttled { retry_after }) => {
            let mut response = refused(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed sign-ins for this account or from this address; wait a minute and try again.",
            );
            if let Ok(value) = header::HeaderValue::from_str(&retry_after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Err(SignInError::NoMembership) => refused(
            StatusCode::FORBIDDEN,
            "Your account belongs to no organization; ask its owner to add you.",
        ),
        Err(error) => {
            tracing::warn!(%error, "sign-in could not be completed");
            refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "keygate cannot sign you in right now; try again shortly.",
            )
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// POST /sign-out — ends the session on the server, then the cookie.
async fn sign_out(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    if !same_origin(&req, &settings.issuer) || !member.check_csrf(&form.csrf) {
        return cross_site();
    }
    let (session_id, actor, now) = (
        member.session.session_id.clone(),
        member.actor(),
        clock.now().naive_utc(),
    );
    let ended = store
        .write(move |tx| users::service::sign_out(tx, &session_id, &actor, now))
        .await;
    if let Err(error) = ended {
        tracing::warn!(%error, "a session could not be ended");
    }
    see_other("/sign-in?notice=signed-out")
        .insert_header((header::SET_COOKIE, session::clear_cookie(&settings.issuer)))
        .finish()
}

/// GET /setup — the page a one-time set-up link leads to; its token is in the
/// link's fragment, which `setup.js` moves into the form.
async fn setup_page() -> HttpResponse {
    render(
        StatusCode::OK,
        SetupPage {
            token: "",
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct SetupForm {
    token: String,
    password: String,
    confirm: String,
}

/// POST /setup — sets the password of the link's account (the link works once).
async fn setup(
    req: HttpRequest,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    form: web::Form<SetupForm>,
) -> HttpResponse {
    if !same_origin(&req, &settings.issuer) {
        return cross_site();
    }
    let SetupForm {
        token,
        password,
        confirm,
    } = form.into_inner();
    let again = |error: &str| {
        render(
            StatusCode::BAD_REQUEST,
            SetupPage {
                token: &token,
                error: Some(error),
            },
        )
    };
    if password != confirm {
        return again("The two passwords differ.");
    }
    if let Err(weak) = password::validate(&password, "") {
        return again(&weak.to_string());
    }
    let now = clock.now().naive_utc();
    let hashed = web::block(move || password::hash(&password)).await;
    let Ok(Ok(hash)) = hashed else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "keygate could not set the password right now.",
            "/setup",
        );
    };
    let token_for_store = token.clone();
    let redeemed = store
        .write(move |tx| users::service::redeem_setup_token(tx, &token_for_store, &hash, now))
        .await;
    match redeemed {
        Ok(_) => see_other("/sign-in?notice=password-set").finish(),
        Err(UserError::InvalidToken) => message(
            StatusCode::BAD_REQUEST,
            "This link does not work",
            "The set-up link is wrong, used already or expired; ask for a new one.",
            "/sign-in",
        ),
        Err(error) => {
            tracing::warn!(%error, "a password could not be set");
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "keygate could not set the password right now.",
                "/sign-in",
            )
        }
    }
}

#[derive(Deserialize)]
struct KeysQuery {
    notice: Option<String>,
}

/// GET /dashboard/keys — the organization's keys, masked.
async fn keys_page(
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
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
        StatusCode::OK,
        None,
        notice,
    )
    .await
}

async fn keys_table(
    member: &Member,
    settings: &DashboardSettings,
    store: &Store,
    clock: &web::Data<dyn Clock>,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> HttpResponse {
    let org_id = member.session.membership.org_id.clone();
    let listed = store
        .read(move |tx| {
            crate::api_keys::repo::list(tx, Some(&org_id), None, KEYS_PER_PAGE)
                .map_err(crate::store::StoreError::from)
        })
        .await;
    let Ok(listed) = listed else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "keygate cannot read the keys right now.",
            "/dashboard/keys",
        );
    };
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
            section: "keys",
            csrf: member.csrf(),
            user_email: &member.session.user.email,
            org_name: &member.org_name,
            role: role.as_str(),
            may_write: role.may_manage_keys(),
            grantable,
            keys: listed.iter().map(|k| KeyRow::new(k, now)).collect(),
            error,
            notice,
        },
    )
}

/// Form fields, repeated ones kept (`scope=read&scope=write`).
fn fields(body: &web::Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
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
        KeyError::NotFound => (StatusCode::NOT_FOUND, "No such key.".to_owned()),
        KeyError::Conflict(why) => (StatusCode::CONFLICT, (*why).to_owned()),
        KeyError::Random(_) | KeyError::Store(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "keygate cannot change keys right now; try again shortly.".to_owned(),
        ),
    }
}

/// The checks of every signed-in post: same origin, the session's CSRF token, and a
/// role that may change things.
fn writable(
    req: &HttpRequest,
    settings: &DashboardSettings,
    member: &Member,
    csrf: Option<&str>,
) -> Result<(), HttpResponse> {
    if !same_origin(req, &settings.issuer) || !csrf.is_some_and(|c| member.check_csrf(c)) {
        return Err(cross_site());
    }
    if !member.session.membership.role().may_manage_keys() {
        return Err(message(
            StatusCode::FORBIDDEN,
            "Read only",
            "Your role in this organization reads; it does not change keys.",
            "/dashboard/keys",
        ));
    }
    Ok(())
}

/// POST /dashboard/keys — creates a key and shows it, this once.
async fn create_key(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    body: web::Bytes,
) -> HttpResponse {
    let form = fields(&body);
    if let Err(refused) = writable(&req, &settings, &member, field(&form, "csrf")) {
        return refused;
    }
    let expires_in = match field(&form, "expires").filter(|t| !t.is_empty()) {
        None => None,
        Some(text) => match crate::config::parse_duration(text) {
            Ok(duration) => Some(duration),
            Err(_) => {
                let error = KeyError::Request(KeyRequestError::ExpiresIn);
                let (status, text) = refusal(&error);
                return keys_table(
                    &member,
                    &settings,
                    &store,
                    &clock,
                    status,
                    Some(&text),
                    None,
                )
                .await;
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
        Err(error) => {
            let (status, text) = refusal(&error);
            keys_table(
                &member,
                &settings,
                &store,
                &clock,
                status,
                Some(&text),
                None,
            )
            .await
        }
    }
}

fn shown_once(member: &Member, heading: &str, issued: &crate::api_keys::IssuedKey) -> HttpResponse {
    render(
        StatusCode::OK,
        KeyCreated {
            section: "keys",
            csrf: member.csrf(),
            user_email: &member.session.user.email,
            org_name: &member.org_name,
            role: member.session.membership.role().as_str(),
            heading,
            name: &issued.row.name,
            scopes: &issued.row.scopes,
            key: issued.key.expose(),
        },
    )
}

/// POST /dashboard/keys/{id}/revoke — with the confirmation box ticked.
async fn revoke_key(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form = fields(&body);
    if let Err(refused) = writable(&req, &settings, &member, field(&form, "csrf")) {
        return refused;
    }
    if field(&form, "confirm") != Some("yes") {
        let text = "Tick the box to confirm the revocation.";
        return keys_table(
            &member,
            &settings,
            &store,
            &clock,
            StatusCode::BAD_REQUEST,
            Some(text),
            None,
        )
        .await;
    }
    let (actor, now) = (member.actor(), clock.now().naive_utc());
    let revoked = store
        .write(move |tx| keys::revoke(tx, &actor, &id, now))
        .await;
    match revoked {
        Ok(_) => see_other("/dashboard/keys?notice=revoked").finish(),
        Err(error) => {
            let (status, text) = refusal(&error);
            keys_table(
                &member,
                &settings,
                &store,
                &clock,
                status,
                Some(&text),
                None,
            )
            .await
        }
    }
}

/// POST /dashboard/keys/{id}/rotate — the successor is shown once; the old key keeps
/// working for the chosen overlap.
async fn rotate_key(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let form = fields(&body);
    if let Err(refused) = writable(&req, &settings, &member, field(&form, "csrf")) {
        return refused;
    }
    let overlap = match field(&form, "overlap").filter(|t| !t.is_empty()) {
        None => Duration::ZERO,
        Some(text) => crate::config::parse_duration(text).unwrap_or(Duration::MAX),
    };
    let (actor, now) = (member.actor(), clock.now().naive_utc());
    let rotated = store
        .write(move |tx| keys::rotate(tx, &actor, &id, overlap, now))
        .await;
    match rotated {
        Ok(issued) => shown_once(&member, "Your rotated API key", &issued),
        Err(error) => {
            let (status, text) = refusal(&error);
            keys_table(
                &member,
                &settings,
                &store,
                &clock,
                status,
                Some(&text),
                None,
            )
            .await
        }
    }
}
