//! "Forgot your password?": the page that asks for an email and mails a link to
//! choose a new password — offered only when a relay is configured (`mail`); without
//! one the form answers 404 and the operator's `keygate user setup-link` is the way.
//!
//! The answer is the same whether the email is someone's or not, and it comes before
//! any work on the account: the lookup, the link and the letter happen after the
//! response (`users::service::request_password_reset`), so neither the words nor the
//! time of the answer tell which emails exist. Each request counts as a failed
//! attempt in the throttle sign-in uses — for the email (its own key, `reset:…`) at the
//! address, and for the address (shared with sign-in) — and
//! an account is mailed at most one link per five minutes. The link leads to the
//! set-up page, which sets the password once and ends every session of the account.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::handlers::{cross_site, message, render, with_retry_after};
use super::pages::ResetRequestPage;
use super::security::same_origin;
use super::DashboardSettings;
use crate::argon2_budget::Argon2Budget;
use crate::audit::Source;
use crate::clock::Clock;
use crate::mail::Mailer;
use crate::store::Store;
use crate::users::{self, letters};

/// GET /sign-in/reset
pub(super) async fn reset_page(mailer: web::Data<Mailer>) -> HttpResponse {
    if !mailer.is_on() {
        return not_offered();
    }
    render(
        StatusCode::OK,
        ResetRequestPage {
            email: "",
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub(super) struct ResetForm {
    email: String,
}

/// POST /sign-in/reset — mails a reset link if the email is an account's; the same
/// answer either way.
pub(super) async fn request_reset(
    req: HttpRequest,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    budget: web::Data<Argon2Budget>,
    mailer: web::Data<Mailer>,
    clock: web::Data<dyn Clock>,
    form: web::Form<ResetForm>,
) -> HttpResponse {
    if !mailer.is_on() {
        return not_offered();
    }
    if !same_origin(&req, &settings.issuer) {
        return cross_site();
    }
    let email = form.into_inner().email.trim().to_owned();
    if email.is_empty() || email.chars().count() > users::service::MAX_EMAIL_CHARS {
        let error = "Enter the email you sign in with (at most 254 characters).";
        return render(
            StatusCode::BAD_REQUEST,
            ResetRequestPage {
                email: "",
                error: Some(error),
            },
        );
    }
    let source = Source::of(&req);
    let now = clock.now();
    let subject = format!("reset:{}", email.to_lowercase());
    let attempt = match budget.reserve(&subject, source.0.as_deref(), now) {
        Ok(attempt) => attempt,
        Err(retry_after) => return throttled(&email, retry_after),
    };
    for burst in attempt.failed(now) {
        // Not the key: it holds the email someone typed.
        tracing::warn!(retry_after = burst.retry_after_secs, source = ?source.0,
            "repeated password-reset requests: throttled");
    }
    let (store, mailer) = (store.into_inner(), mailer.into_inner());
    let issuer_base = settings.issuer.base().to_owned();
    actix_web::rt::spawn(async move {
        let asked = email.clone();
        let issued = store
            .write(move |tx| {
                users::service::request_password_reset(tx, &asked, &source, now.naive_utc())
            })
            .await;
        let queued = match issued {
            Ok(Some((user, token))) => {
                letters::send_password_reset(&mailer, &user.email, &token, &issuer_base)
            }
            Ok(None) => Ok(()),
            Err(error) => {
                tracing::warn!(%error, "a password-reset request could not be completed");
                Ok(())
            }
        };
        if let Err(error) = queued {
            tracing::warn!(%error, "a password-reset letter could not be queued");
        }
    });
    message(
        StatusCode::OK,
        "Check your mail",
        "If an account uses that email, a link to choose a new password is on its way. \
         It works once, for one hour. Nothing after a few minutes? Check the address and ask again.",
        "/sign-in",
    )
}

fn throttled(email: &str, retry_after: u64) -> HttpResponse {
    let page = ResetRequestPage {
        email,
        error: Some(
            "Too many requests for this email or from this address; wait a minute and try again.",
        ),
    };
    with_retry_after(render(StatusCode::TOO_MANY_REQUESTS, page), retry_after)
}

fn not_offered() -> HttpResponse {
    message(
        StatusCode::NOT_FOUND,
        "Not offered here",
        "This keygate sends no mail. Ask your organization's owner or the operator for a new set-up link.",
        "/sign-in",
    )
}
