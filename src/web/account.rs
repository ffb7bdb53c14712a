//! The signed-in person's own account in the dashboard: change the password (the
//! other sessions end), their open sessions with sign-out of each, and their second
//! factor — enrol TOTP (the secret shown once, confirmed by a first code, then the
//! recovery codes shown once), or turn it off with a current code. Each post is
//! checked for its origin and CSRF token, then calls `users::account` or
//! `users::second_factor`. When the organization requires a second factor and the
//! person has none, this is the only page the dashboard opens (`session::Member`).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::handlers::{cross_site, message, render};
use super::pages::{utc, Nav, NoticeQuery};
use super::security::see_other;
use super::session::Member;
use super::DashboardSettings;
use crate::argon2_budget::Argon2Budget;
use crate::clock::Clock;
use crate::secret::Secret;
use crate::store::{Store, StoreError};
use crate::users::account::{self, PasswordChangeError};
use crate::users::sealing::Sealer;
use crate::users::second_factor::{self, SecondFactorError};

#[derive(Template)]
#[template(path = "account.html", config = "src/web/askama.toml")]
struct AccountPage<'a> {
    nav: Nav<'a>,
    display_name: &'a str,
    sessions: Vec<SessionRow>,
    /// When the second factor was turned on, if it is.
    second_factor_since: Option<String>,
    recovery_codes_left: i64,
    /// The applications the person let act for them here.
    apps: Vec<super::consents::ConsentRow>,
    /// The organization requires a second factor and the person has none yet.
    second_factor_required: bool,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "totp_enrol.html", config = "src/web/askama.toml")]
struct EnrolPage<'a> {
    nav: Nav<'a>,
    /// The secret in base32, in groups of four for typing.
    secret: String,
    otpauth_uri: String,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html", config = "src/web/askama.toml")]
struct RecoveryCodesPage<'a> {
    nav: Nav<'a>,
    codes: String,
}

struct SessionRow {
    id: crate::ids::SessionId,
    started: String,
    last_seen: String,
    source: String,
    browser: String,
    current: bool,
}

/// The routes of `/dashboard/account`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard/account", web::get().to(account_page))
        .route(
            "/dashboard/account/password",
            web::post().to(change_password),
        )
        .route(
            "/dashboard/account/sessions/{id}/end",
            web::post().to(end_session),
        )
        .route(
            "/dashboard/account/second-factor/start",
            web::post().to(start_enrolment),
        )
        .route(
            "/dashboard/account/second-factor/confirm",
            web::post().to(confirm_enrolment),
        )
        .route(
            "/dashboard/account/second-factor/disable",
            web::post().to(disable_second_factor),
        );
}

/// GET /dashboard/account
async fn account_page(
    member: Member,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    query: web::Query<NoticeQuery>,
) -> HttpResponse {
    let notice = match query.notice.as_deref() {
        Some("password-changed") => {
            Some("Your password is changed; your other sessions have ended.")
        }
        Some("session-ended") => Some("That session has ended."),
        Some("second-factor-off") => Some("Your second factor is off."),
        Some("app-revoked") => {
            Some("The application can no longer act for you; its tokens have stopped working.")
        }
        Some("second-factor-required") => {
            Some("Your organization requires a second factor: set one up to open the other pages.")
        }
        _ => None,
    };
    show(&member, &store, &clock, StatusCode::OK, notice, None).await
}

async fn show(
    member: &Member,
    store: &Store,
    clock: &web::Data<dyn Clock>,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> HttpResponse {
    let now = clock.now().naive_utc();
    let user_id = member.session.user.id.clone();
    let org_id = member.session.membership.org_id.clone();
    let read = store
        .read(move |tx| {
            let sessions = account::open_sessions(tx, &user_id, now)?;
            let left = second_factor::recovery_codes_left(tx, &user_id)?;
            let apps = super::consents::rows(tx, &org_id, Some(&user_id))?;
            Ok::<_, StoreError>((sessions, left, apps))
        })
        .await;
    let Ok((sessions, recovery_codes_left, apps)) = read else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "keygate cannot read your account right now.",
            "/dashboard/account",
        );
    };
    let user = &member.session.user;
    let rows = sessions
        .into_iter()
        .map(|s| SessionRow {
            current: s.id == member.session.session_id,
            started: utc(s.created_at),
            last_seen: utc(s.last_seen_at),
            source: s.source_ip.unwrap_or_else(|| "—".to_owned()),
            browser: s.user_agent.unwrap_or_else(|| "—".to_owned()),
            id: s.id,
        })
        .collect();
    render(
        status,
        AccountPage {
            nav: Nav {
                user_email: &user.email,
                ..member.nav("account")
            },
            display_name: user.display_name.as_deref().unwrap_or(""),
            sessions: rows,
            second_factor_since: user.totp_enabled_at.map(utc),
            recovery_codes_left,
            apps,
            second_factor_required: member.second_factor_missing,
            notice,
            error,
        },
    )
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    current: String,
    password: String,
    confirm: String,
}

/// POST /dashboard/account/password
async fn change_password(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    budget: web::Data<Argon2Budget>,
    clock: web::Data<dyn Clock>,
    form: web::Form<PasswordForm>,
) -> HttpResponse {
    let PasswordForm {
        csrf,
        current,
        password,
        confirm,
    } = form.into_inner();
    if !member.posted_from_own_page(&req, &settings.issuer, Some(&csrf)) {
        return cross_site();
    }
    if password != confirm {
        let error = Some("The two new passwords differ.");
        return show(
            &member,
            &store,
            &clock,
            StatusCode::BAD_REQUEST,
            None,
            error,
        )
        .await;
    }
    let now = clock.now().naive_utc();
    let changed = account::change_password(
        &store,
        &budget,
        &member.session.user,
        &member.session.session_id,
        &Secret::new(current),
        &Secret::new(password),
        &member.source,
        now,
    )
    .await;
    let (status, error) = match changed {
        Ok(_) => return see_other("/dashboard/account?notice=password-changed").finish(),
        Err(PasswordChangeError::WrongPassword) => (
            StatusCode::UNAUTHORIZED,
            "The current password is not right.".to_owned(),
        ),
        Err(PasswordChangeError::Weak(weak)) => (StatusCode::BAD_REQUEST, weak.to_string()),
        Err(PasswordChangeError::Throttled { .. }) => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed attempts; wait a minute and try again.".to_owned(),
        ),
        Err(
            error @ (PasswordChangeError::Unavailable
            | PasswordChangeError::Hash
            | PasswordChangeError::Store(_)),
        ) => {
            tracing::warn!(%error, "a password could not be changed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "keygate cannot change your password right now; try again shortly.".to_owned(),
            )
        }
    };
    show(&member, &store, &clock, status, None, Some(&error)).await
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// POST /dashboard/account/sessions/{id}/end — ends one of the person's own
/// sessions (another person's id ends nothing: 404).
async fn end_session(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    if !member.posted_from_own_page(&req, &settings.issuer, Some(&form.csrf)) {
        return cross_site();
    }
    let (user, source, now) = (
        member.session.user.clone(),
        member.source.clone(),
        clock.now().naive_utc(),
    );
    let id = crate::ids::SessionId::from(id.into_inner());
    let this_one = id == member.session.session_id;
    let ended = store
        .write(move |tx| account::end_own_session(tx, &user, &id, &source, now))
        .await;
    match ended {
        Ok(true) if this_one => see_other("/sign-in?notice=signed-out")
            .insert_header((
                header::SET_COOKIE,
                super::session::clear_cookie(&settings.issuer),
            ))
            .finish(),
        Ok(true) => see_other("/dashboard/account?notice=session-ended").finish(),
        Ok(false) => message(
            StatusCode::NOT_FOUND,
            "Not found",
            "You have no such open session.",
            "/dashboard/account",
        ),
        Err(error) => {
            tracing::warn!(%error, "a session could not be ended");
            show(
                &member,
                &store,
                &clock,
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                Some("keygate cannot end the session right now; try again shortly."),
            )
            .await
        }
    }
}

/// What a second-factor refusal says on a page.
fn refusal(error: &SecondFactorError) -> (StatusCode, String) {
    match error {
        SecondFactorError::WrongCode => (StatusCode::BAD_REQUEST, error.to_string()),
        SecondFactorError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, error.to_string()),
        SecondFactorError::AlreadyEnabled
        | SecondFactorError::NotStarted
        | SecondFactorError::NotEnabled => (StatusCode::CONFLICT, error.to_string()),
        SecondFactorError::Seal(crate::users::sealing::SealError::NoKey) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Second factors cannot be set up on this server yet: it has no key to protect them with. Ask the operator."
                .to_owned(),
        ),
        SecondFactorError::Seal(_) | SecondFactorError::Random(_) | SecondFactorError::Store(_) => {
            tracing::warn!(%error, "a second-factor step failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "keygate cannot change your second factor right now; try again shortly.".to_owned(),
            )
        }
    }
}

fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn no_store(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

fn enrol_page(
    member: &Member,
    settings: &DashboardSettings,
    secret: &crate::users::totp::TotpSecret,
    status: StatusCode,
    error: Option<&str>,
) -> HttpResponse {
    let issuer = settings
        .issuer
        .base()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    no_store(render(
        status,
        EnrolPage {
            nav: member.nav("account"),
            secret: grouped(&secret.to_base32()),
            otpauth_uri: secret
                .otpauth_uri(&format!("keygate ({issuer})"), &member.session.user.email),
            error,
        },
    ))
}

/// POST /dashboard/account/second-factor/start — a new TOTP secret, shown to be
/// added to an authenticator app.
async fn start_enrolment(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    sealer: web::Data<Sealer>,
    clock: web::Data<dyn Clock>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    if !member.posted_from_own_page(&req, &settings.issuer, Some(&form.csrf)) {
        return cross_site();
    }
    let (user, sealer_for_write) = (member.session.user.clone(), sealer.clone());
    let started = store
        .write(move |tx| second_factor::start_enrolment(tx, &sealer_for_write, &user))
        .await;
    match started {
        Ok(secret) => enrol_page(&member, &settings, &secret, StatusCode::OK, None),
        Err(error) => {
            let (status, text) = refusal(&error);
            show(&member, &store, &clock, status, None, Some(&text)).await
        }
    }
}

#[derive(Deserialize)]
struct CodeForm {
    csrf: String,
    code: String,
}

/// POST /dashboard/account/second-factor/confirm — the first code from the app turns
/// the second factor on; the recovery codes are shown, this once.
async fn confirm_enrolment(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    sealer: web::Data<Sealer>,
    clock: web::Data<dyn Clock>,
    form: web::Form<CodeForm>,
) -> HttpResponse {
    let CodeForm { csrf, code } = form.into_inner();
    if !member.posted_from_own_page(&req, &settings.issuer, Some(&csrf)) {
        return cross_site();
    }
    let (user, source, now) = (
        member.session.user.clone(),
        member.source.clone(),
        clock.now().naive_utc(),
    );
    let for_write = sealer.clone();
    let confirmed = store
        .write(move |tx| {
            second_factor::confirm_enrolment(tx, &for_write, &user, &code, &source, now)
        })
        .await;
    match confirmed {
        Ok(codes) => no_store(render(
            StatusCode::OK,
            RecoveryCodesPage {
                nav: member.nav("account"),
                codes: codes
                    .iter()
                    .map(|c| c.expose().to_owned())
                    .collect::<Vec<_>>()
                    .join("\n"),
            },
        )),
        Err(SecondFactorError::WrongCode) => {
            // The same secret again, to retry with the app's next code.
            let (user, for_read) = (member.session.user.clone(), sealer.clone());
            let pending = store
                .read(move |tx| second_factor::pending_secret(tx, &for_read, &user))
                .await;
            match pending {
                Ok(Some(secret)) => enrol_page(
                    &member,
                    &settings,
                    &secret,
                    StatusCode::BAD_REQUEST,
                    Some("The code is not right; enter the one your app shows now."),
                ),
                _ => {
                    show(
                        &member,
                        &store,
                        &clock,
                        StatusCode::CONFLICT,
                        None,
                        Some("No set-up is under way; start again."),
                    )
                    .await
                }
            }
        }
        Err(error) => {
            let (status, text) = refusal(&error);
            show(&member, &store, &clock, status, None, Some(&text)).await
        }
    }
}

/// POST /dashboard/account/second-factor/disable — a current code turns it off.
#[allow(clippy::too_many_arguments)]
async fn disable_second_factor(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    budget: web::Data<Argon2Budget>,
    sealer: web::Data<Sealer>,
    clock: web::Data<dyn Clock>,
    form: web::Form<CodeForm>,
) -> HttpResponse {
    let CodeForm { csrf, code } = form.into_inner();
    if !member.posted_from_own_page(&req, &settings.issuer, Some(&csrf)) {
        return cross_site();
    }
    let (user, source, now) = (
        member.session.user.clone(),
        member.source.clone(),
        clock.now().naive_utc(),
    );
    let code = Secret::new(code);
    let disabled =
        account::turn_off_second_factor(&store, &budget, &sealer, &user, &code, &source, now).await;
    match disabled {
        Ok(()) => see_other("/dashboard/account?notice=second-factor-off").finish(),
        Err(SecondFactorError::Throttled { .. }) => {
            let error = Some("Too many wrong codes; wait a minute and try again.");
            let status = StatusCode::TOO_MANY_REQUESTS;
            show(&member, &store, &clock, status, None, error).await
        }
        Err(error) => {
            let (status, text) = refusal(&error);
            show(&member, &store, &clock, status, None, Some(&text)).await
        }
    }
}
