//! The consents people gave applications, in the dashboard: the person's own on the
//! account page, every one of the organization on the applications page for a role
//! that manages applications — each with a Revoke button, which withdraws it
//! (`consents::withdraw`: the app's refresh families for that person are revoked and
//! its access tokens stop at once).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::handlers::{cross_site, message};
use super::pages::utc;
use super::security::see_other;
use super::session::Member;
use super::DashboardSettings;
use crate::clock::Clock;
use crate::consents::{self, ListedConsent, Withdrawer};
use crate::ids::{ClientId, OrgId, UserId};
use crate::store::{Store, StoreError, Tx};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/dashboard/account/apps/{client_id}/revoke",
        web::post().to(revoke_own),
    )
    .route(
        "/dashboard/apps/authorizations/revoke",
        web::post().to(revoke_in_org),
    );
}

/// One consent as a table row shows it.
pub struct ConsentRow {
    pub client_id: String,
    pub app: String,
    pub user_id: String,
    pub email: String,
    pub scopes: String,
    pub since: String,
    pub last: String,
}

impl ConsentRow {
    fn new(listed: ListedConsent) -> Self {
        Self {
            client_id: listed.consent.client_id.to_string(),
            app: listed.client_name,
            user_id: listed.consent.user_id.to_string(),
            email: listed.user_email,
            scopes: listed.consent.scope,
            since: utc(listed.consent.created_at),
            last: utc(listed.consent.updated_at),
        }
    }
}

/// The consents given in `org_id` — by `user_id` alone when named (the account
/// page), else all of them (the applications page, for a role that manages them).
pub fn rows(
    tx: &mut Tx<'_>,
    org_id: &OrgId,
    user_id: Option<&UserId>,
) -> Result<Vec<ConsentRow>, StoreError> {
    Ok(consents::repo::listed(tx, org_id, user_id)?
        .into_iter()
        .map(ConsentRow::new)
        .collect())
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

#[derive(Deserialize)]
struct RevokeForm {
    csrf: String,
    user_id: String,
    client_id: String,
}

/// POST /dashboard/account/apps/{client_id}/revoke — the person withdraws their own.
async fn revoke_own(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    client_id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    if !member.posted_from_own_page(&req, &settings.issuer, Some(&form.csrf)) {
        return cross_site();
    }
    let user_id = member.session.user.id.clone();
    let client_id = ClientId::from(client_id.into_inner());
    let withdrawn = withdraw(
        &member,
        &store,
        &clock,
        user_id.clone(),
        client_id,
        Some(user_id),
    )
    .await;
    answer(
        withdrawn,
        "/dashboard/account?notice=app-revoked",
        "/dashboard/account",
    )
}

/// POST /dashboard/apps/authorizations/revoke — an admin withdraws a member's.
async fn revoke_in_org(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    form: web::Form<RevokeForm>,
) -> HttpResponse {
    if !member.posted_from_own_page(&req, &settings.issuer, Some(&form.csrf)) {
        return cross_site();
    }
    if !member.session.membership.role().may_manage_clients() {
        return message(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Only an owner or an admin withdraws other people's authorizations.",
            "/dashboard/apps",
        );
    }
    let form = form.into_inner();
    let withdrawn = withdraw(
        &member,
        &store,
        &clock,
        UserId::from(form.user_id),
        ClientId::from(form.client_id),
        None,
    )
    .await;
    answer(
        withdrawn,
        "/dashboard/apps#authorizations",
        "/dashboard/apps",
    )
}

/// Withdraws the consent of `user_id` for `client_id` in the member's organization:
/// as that person (`Some`), or as an admin of it (`None`).
async fn withdraw(
    member: &Member,
    store: &Store,
    clock: &web::Data<dyn Clock>,
    user_id: UserId,
    client_id: ClientId,
    as_person: Option<UserId>,
) -> Result<bool, StoreError> {
    let org_id = member.session.membership.org_id.clone();
    let actor = member.actor();
    let now = clock.now().naive_utc();
    store
        .write(move |tx| {
            let who = match &as_person {
                Some(person) => Withdrawer::Person(person),
                None => Withdrawer::AdminOf(&org_id),
            };
            consents::withdraw(tx, who, (&user_id, &org_id, &client_id), actor.by(), now)
        })
        .await
}

fn answer(withdrawn: Result<bool, StoreError>, done: &str, back: &str) -> HttpResponse {
    match withdrawn {
        Ok(true) => see_other(done).finish(),
        Ok(false) => message(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such authorization.",
            back,
        ),
        Err(error) => {
            tracing::warn!(%error, "an authorization could not be withdrawn");
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "keygate cannot withdraw the authorization right now; try again shortly.",
                back,
            )
        }
    }
}
