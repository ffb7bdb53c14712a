//! The dashboard's routes, and its pages for signing in and out and setting a
//! password (the keys pages are `keys`'s). Each post is checked for its origin (and,
//! signed in, its CSRF token), then makes one call to the same use cases as the API
//! and the CLI (`users`) and answers with a page or a redirect.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::pages::{Message, SecondFactorPage, SetupPage, SignIn};
use super::security::{page, safe_next, same_origin, see_other};
use super::session::{self, Member};
use super::{assets, keys, overview, password_reset, DashboardSettings};
use crate::argon2_budget::Argon2Budget;
use crate::audit::Source;
use crate::clock::Clock;
use crate::mail::Mailer;
use crate::secret::{ct_eq_str, Secret};
use crate::store::Store;
use crate::users::sealing::Sealer;
use crate::users::sign_in::SignInOptions;
use crate::users::{self, password, SignInError, UserError};

/// The dashboard's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/assets/{name}", web::get().to(assets::get_asset))
        .route("/sign-in", web::get().to(sign_in_page))
        .route("/sign-in", web::post().to(sign_in))
        .route("/sign-in/second-factor", web::get().to(second_factor_page))
        .route("/sign-in/second-factor", web::post().to(second_factor))
        .route("/sign-in/reset", web::get().to(password_reset::reset_page))
        .route(
            "/sign-in/reset",
            web::post().to(password_reset::request_reset),
        )
        .route("/sign-out", web::post().to(sign_out))
        .route("/setup", web::get().to(setup_page))
        .route("/setup", web::post().to(setup))
        .route("/dashboard", web::get().to(overview::overview_page))
        .route("/dashboard/keys", web::get().to(keys::keys_page))
        .route("/dashboard/keys", web::post().to(keys::create_key))
        .route("/dashboard/keys/{id}", web::get().to(keys::key_page))
        .route("/dashboard/keys/{id}", web::post().to(keys::update_key))
        .route(
            "/dashboard/keys/{id}/revoke",
            web::post().to(keys::revoke_key),
        )
        .route(
            "/dashboard/keys/{id}/rotate",
            web::post().to(keys::rotate_key),
        )
        .configure(super::apps::configure)
        .configure(super::members::configure)
        .configure(super::settings::configure)
        .configure(super::account::configure)
        .configure(super::audit::configure)
        .configure(super::authorize::configure)
        .configure(super::consents::configure);
}

pub(super) fn render(status: StatusCode, template: impl Template) -> HttpResponse {
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

pub(super) fn message(status: StatusCode, heading: &str, text: &str, link: &str) -> HttpResponse {
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

/// `response` with `Retry-After: seconds` (a throttled or busy page).
pub(super) fn with_retry_after(mut response: HttpResponse, seconds: u64) -> HttpResponse {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
    response
}

/// A post that does not come from keygate's own pages.
pub(super) fn cross_site() -> HttpResponse {
    message(
        StatusCode::FORBIDDEN,
        "Refused",
        "This form was not sent from keygate's own pages.",
        "/",
    )
}

/// GET / — the dashboard (or, signed out, the sign-in page).
async fn home() -> HttpResponse {
    see_other("/dashboard").finish()
}

#[derive(Deserialize)]
struct SignInQuery {
    next: Option<String>,
    notice: Option<String>,
}

/// GET /sign-in
async fn sign_in_page(query: web::Query<SignInQuery>, mailer: web::Data<Mailer>) -> HttpResponse {
    let notice = match query.notice.as_deref() {
        Some("password-set") => Some("Your password is set: sign in with it."),
        Some("signed-out") => Some("You are signed out."),
        Some("start-over") => Some("That sign-in expired; sign in again."),
        Some("session-ended") => Some("Your session has ended; sign in again."),
        Some("password-changed") => Some("Your password is changed: sign in with the new one."),
        _ => None,
    };
    render(
        StatusCode::OK,
        SignIn {
            next: safe_next(query.next.as_deref()),
            email: "",
            notice,
            error: None,
            reset_offered: mailer.is_on(),
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
    mailer: web::Data<Mailer>,
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
                reset_offered: mailer.is_on(),
            },
        )
    };
    match signed_in {
        Ok(signed_in) if signed_in.second_factor_pending => {
            let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
            see_other(&format!("/sign-in/second-factor?next={next}"))
                .insert_header((
                    header::SET_COOKIE,
                    session::set_cookie(&settings.issuer, signed_in.session_token.expose()),
                ))
                .finish()
        }
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
        Err(SignInError::Throttled { retry_after }) => with_retry_after(
            refused(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed sign-ins for this account or from this address; wait a minute and try again.",
            ),
            retry_after,
        ),
        Err(SignInError::NoMembership) => refused(
            StatusCode::FORBIDDEN,
            "Your account belongs to no organization; ask its owner to add you.",
        ),
        // A full argon2 budget is load, not a fault: no log line per refused attempt
        // (a flood would write one each), and the browser is told when to retry.
        Err(SignInError::Unavailable) => {
            let busy = refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "keygate is busy signing people in; try again in a moment.",
            );
            with_retry_after(busy, 1)
        }
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
struct SecondFactorQuery {
    next: Option<String>,
}

/// GET /sign-in/second-factor — after the password, for a person with a second
/// factor; without a waiting sign-in, back to the sign-in page.
async fn second_factor_page(
    req: HttpRequest,
    settings: web::Data<DashboardSettings>,
    query: web::Query<SecondFactorQuery>,
) -> HttpResponse {
    let Some(token) = session::token_of(&req, &settings.issuer) else {
        return see_other("/sign-in").finish();
    };
    let csrf = users::session::csrf_of(&token);
    render(
        StatusCode::OK,
        SecondFactorPage {
            csrf: csrf.expose(),
            next: safe_next(query.next.as_deref()),
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct SecondFactorForm {
    csrf: String,
    code: String,
    next: Option<String>,
}

/// POST /sign-in/second-factor — the code (TOTP or recovery) that completes a
/// sign-in; throttled like the password.
#[allow(clippy::too_many_arguments)]
async fn second_factor(
    req: HttpRequest,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    budget: web::Data<Argon2Budget>,
    sealer: web::Data<Sealer>,
    clock: web::Data<dyn Clock>,
    form: web::Form<SecondFactorForm>,
) -> HttpResponse {
    let SecondFactorForm { csrf, code, next } = form.into_inner();
    let Some(token) = session::token_of(&req, &settings.issuer) else {
        return see_other("/sign-in").finish();
    };
    let expected = users::session::csrf_of(&token);
    if !same_origin(&req, &settings.issuer) || !ct_eq_str(&csrf, expected.expose()) {
        return cross_site();
    }
    let next = safe_next(next.as_deref()).to_owned();
    let options = SignInOptions {
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        previous_session: None,
        lifetime: Some(settings.session_lifetime),
    };
    let now = clock.now().naive_utc();
    let completed = users::sign_in::complete_second_factor(
        &store,
        &budget,
        &sealer.clone().into_inner(),
        &token,
        &Secret::new(code),
        &Source::of(&req),
        options,
        now,
    )
    .await;
    let again = |status, error: &str| {
        render(
            status,
            SecondFactorPage {
                csrf: expected.expose(),
                next: &next,
                error: Some(error),
            },
        )
    };
    match completed {
        Ok(signed_in) => see_other(&next)
            .insert_header((
                header::SET_COOKIE,
                session::set_cookie(&settings.issuer, signed_in.session_token.expose()),
            ))
            .finish(),
        Err(SignInError::WrongCode) => again(
            StatusCode::UNAUTHORIZED,
            "The code is not right. Use the current code from your app, or an unused recovery code.",
        ),
        Err(SignInError::Throttled { retry_after }) => with_retry_after(
            again(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many wrong codes; wait a minute and try again.",
            ),
            retry_after,
        ),
        Err(SignInError::PendingExpired | SignInError::NoMembership) => {
            see_other("/sign-in?notice=start-over")
                .insert_header((header::SET_COOKIE, session::clear_cookie(&settings.issuer)))
                .finish()
        }
        Err(error) => {
            tracing::warn!(%error, "a second factor could not be checked");
            again(
                StatusCode::SERVICE_UNAVAILABLE,
                "keygate cannot check the code right now; try again shortly.",
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
    if !member.posted_from_own_page(&req, &settings.issuer, Some(&form.csrf)) {
        return cross_site();
    }
    let (session_id, user, source, now) = (
        member.session.session_id.clone(),
        member.session.user.clone(),
        member.source.clone(),
        clock.now().naive_utc(),
    );
    let ended = store
        .write(move |tx| users::account::end_own_session(tx, &user, &session_id, &source, now))
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

/// POST /setup — sets the password of the link's account (a set-up or a reset link;
/// it works once).
async fn setup(
    req: HttpRequest,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    budget: web::Data<Argon2Budget>,
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
    // Through the argon2 budget like a sign-in: a flood of set-up posts waits for
    // leases instead of hashing beside them.
    let hashed = match budget.lease_for_sign_in().await {
        Ok(lease) => web::block(move || lease.hash(password.as_bytes()).ok()).await,
        Err(_) => Ok(None),
    };
    let Ok(Some(hash)) = hashed else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "keygate could not set the password right now.",
            "/setup",
        );
    };
    let token_for_store = token.clone();
    let redeemed = store
        .write(move |tx| users::service::redeem_link(tx, &token_for_store, &hash, now))
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
