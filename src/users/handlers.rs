//! `/v1/members`: the organization's people through the management API — list
//! (scope `read`), invite, change a role, remove (scope `admin`; a credential acts as
//! an `admin`, never an `owner`: `members::acting_role`). Every route sees only the
//! caller's organization; a person of another one is a 404.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::model::Role;
use super::service;
use super::view::MemberView;
use super::{letters, members};
use crate::api::page_response;
use crate::audit::Source;
use crate::clock::Clock;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::UserId;
use crate::mail::Mailer;
use crate::routes::Endpoint;
use crate::scope::Scope;
use crate::store::Store;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteMember {
    /// At most 254 characters; unique whatever its case.
    #[schema(example = "ada@example.com", max_length = 254)]
    email: String,
    /// Shown in the dashboard; at most 200 characters (kept only for a new account).
    #[schema(max_length = 200)]
    display_name: Option<String>,
    /// `owner` (only an owner gives it: never a credential), `admin`, `developer` or
    /// `viewer`.
    #[schema(example = "developer")]
    role: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    #[schema(example = "viewer")]
    role: String,
}

/// The 201 of an invitation: the member, and the setup link when the person has no
/// password yet — shown this once, for the inviter to pass on.
#[derive(Serialize, utoipa::ToSchema)]
struct Invited<'a> {
    /// `{issuer}/setup#kgut_…`, valid 24 hours; absent when the person already has a
    /// password (they sign in as they are).
    setup_url: Option<String>,
    setup_expires_at: Option<chrono::DateTime<Utc>>,
    /// Whether the account was made by this invitation.
    new_account: bool,
    /// Whether an invitation letter was queued for the person (only when keygate has
    /// an SMTP relay, `smtp_url`; delivery is retried for about a minute, and the
    /// link above works whether or not it arrives).
    mail_queued: bool,
    #[serde(flatten)]
    member: MemberView<'a>,
}

fn role_of(text: &str) -> Result<Role, ApiError> {
    Role::parse(text).ok_or_else(|| {
        ApiError::invalid_request("role: one of owner, admin, developer, viewer", Some("role"))
    })
}

/// The routes of `/v1/members`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        Endpoint::new("/v1/members")
            .get(list_members)
            .post(invite_member),
    )
    .service(
        Endpoint::new("/v1/members/{user_id}")
            .patch(change_member_role)
            .delete(remove_member),
    );
}

/// GET /v1/members — scope `read`. Every member of the caller's organization, oldest
/// first, in one page (`next_cursor` is always null).
#[utoipa::path(
    get,
    path = "/v1/members",
    tag = "members",
    responses((status = 200, description = "Every member, in one page (`next_cursor` null)", body = crate::api::Page<MemberView>), crate::openapi::responses::ResolverErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn list_members(
    req: HttpRequest,
    who: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Read)?;
    let (actor, org_id) = (who.actor(Source::of(&req)), who.org().to_owned());
    let members = store
        .read(move |c| members::list(c, &actor, &org_id))
        .await?;
    let views = members
        .iter()
        .map(|(user, membership)| MemberView::new(user, membership))
        .collect();
    Ok(page_response::<MemberView>(views, None))
}

/// POST /v1/members — scope `admin`. Makes the person with `email` a member with
/// `role`: a new account gets a setup link (201 with `setup_url`, shown once); a
/// person who already has a password elsewhere just becomes a member. 409 if they
/// are one already.
#[utoipa::path(
    post,
    path = "/v1/members",
    tag = "members",
    request_body = InviteMember,
    responses((status = 201, description = "The member, and a setup link shown this once when they have no password", body = Invited), crate::openapi::responses::Conflict, crate::openapi::responses::ResolverErrors, crate::openapi::responses::JsonBodyErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn invite_member(
    req: HttpRequest,
    who: Principal,
    dashboard: web::Data<crate::web::DashboardSettings>,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    mailer: web::Data<Mailer>,
    body: web::Json<InviteMember>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Admin)?;
    let InviteMember {
        email,
        display_name,
        role,
    } = body.into_inner();
    let role = role_of(&role)?;
    let now = clock.now().naive_utc();
    let (actor, org_id) = (who.actor(Source::of(&req)), who.org().to_owned());
    let invited = store
        .write(move |c| {
            members::invite(
                c,
                &actor,
                &org_id,
                &email,
                display_name.as_deref(),
                role,
                now,
            )
        })
        .await?;
    tracing::info!(user_id = %invited.user.id, actor = %who.actor_label(), "member invited");
    let mail_queued =
        letters::mail_invitation(&mailer, &invited, dashboard.issuer.base()).unwrap_or(false);
    let setup_url = invited
        .setup_token
        .as_ref()
        .map(|token| service::setup_url(dashboard.issuer.base(), token));
    let setup_expires_at = setup_url
        .as_ref()
        .map(|_| (now + service::SETUP_TOKEN_LIFETIME).and_utc());
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(Invited {
            setup_url,
            setup_expires_at,
            new_account: invited.new_account,
            mail_queued,
            member: MemberView::new(&invited.user, &invited.membership),
        }))
}

/// PATCH /v1/members/{user_id} — scope `admin`. `{"role": "viewer"}`; the last
/// owner keeps their role (409), and a credential changes no owner (403).
#[utoipa::path(
    patch,
    path = "/v1/members/{user_id}",
    tag = "members",
    request_body = ChangeRole,
    responses((status = 200, description = "The member with their new role", body = MemberView), crate::openapi::responses::NotFound, crate::openapi::responses::Conflict, crate::openapi::responses::ResolverErrors, crate::openapi::responses::JsonBodyErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn change_member_role(
    req: HttpRequest,
    who: Principal,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    user_id: web::Path<String>,
    body: web::Json<ChangeRole>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Admin)?;
    let role = role_of(&body.role)?;
    let user_id = UserId::from(user_id.into_inner());
    let now = clock.now().naive_utc();
    let (actor, org_id) = (who.actor(Source::of(&req)), who.org().to_owned());
    let (user, membership) = store
        .write(move |c| {
            let membership = members::change_role(c, &actor, &org_id, &user_id, role, now)?;
            let user = super::repo::find(c, &user_id)?.ok_or(super::UserError::NotFound)?;
            Ok::<_, super::UserError>((user, membership))
        })
        .await?;
    tracing::info!(user_id = %user.id, actor = %who.actor_label(), role = %role, "member role changed");
    Ok(HttpResponse::Ok().json(MemberView::new(&user, &membership)))
}

/// DELETE /v1/members/{user_id} — scope `admin`. Ends the membership and the
/// person's sessions in the organization (204); the last owner stays (409).
#[utoipa::path(
    delete,
    path = "/v1/members/{user_id}",
    tag = "members",
    responses((status = 204, description = "Removed"), crate::openapi::responses::NotFound, crate::openapi::responses::Conflict, crate::openapi::responses::ResolverErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn remove_member(
    req: HttpRequest,
    who: Principal,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    user_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Admin)?;
    let user_id = UserId::from(user_id.into_inner());
    let now = clock.now().naive_utc();
    let (actor, org_id) = (who.actor(Source::of(&req)), who.org().to_owned());
    let logged = user_id.clone();
    store
        .write(move |c| members::remove(c, &actor, &org_id, &user_id, now))
        .await?;
    tracing::info!(user_id = %logged, actor = %who.actor_label(), "member removed");
    Ok(HttpResponse::NoContent().finish())
}
