//! The organization's members in the dashboard: the list (everyone sees it), and for
//! an owner or admin the invite form (the setup link shown once to pass on), a role
//! change and a removal per member. Every change is one call to `users::members`, the
//! use cases of `/v1/members` and `keygate member`, as the signed-in person's actor,
//! after the origin and CSRF checks; which roles the forms offer is
//! `Role::may_grant`, which the use cases enforce again.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::handlers::{cross_site, message, render};
use super::pages::{Nav, NoticeQuery};
use super::security::see_other;
use super::session::Member;
use super::DashboardSettings;
use crate::clock::Clock;
use crate::ids::UserId;
use crate::mail::Mailer;
use crate::store::Store;
use crate::users::view::member_status;
use crate::users::{letters, members, service, Role, UserError};

#[derive(Template)]
#[template(path = "members.html", config = "src/web/askama.toml")]
struct MembersPage<'a> {
    nav: Nav<'a>,
    /// Whether the person invites, changes and removes members.
    may_manage: bool,
    /// The roles the person may give: the invite form's and each row's choices.
    grantable: Vec<&'static str>,
    members: Vec<MemberRow>,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "member_invited.html", config = "src/web/askama.toml")]
struct MemberInvited<'a> {
    nav: Nav<'a>,
    email: &'a str,
    member_role: &'a str,
    /// The setup link, shown this once; `None`: the person signs in as they are.
    setup_url: Option<String>,
    /// With a relay configured: whether the invitation letter was queued.
    mailed: Option<bool>,
}

/// One member as the table shows them.
struct MemberRow {
    user_id: String,
    email: String,
    name: String,
    role: &'static str,
    status: &'static str,
    joined_at: String,
    /// Whether the person looking may change this member's role or remove them.
    changeable: bool,
    /// Whether this row is the person looking.
    is_self: bool,
}

/// The routes of `/dashboard/members`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard/members", web::get().to(members_page))
        .route("/dashboard/members", web::post().to(invite))
        .route(
            "/dashboard/members/{user_id}/role",
            web::post().to(change_role),
        )
        .route(
            "/dashboard/members/{user_id}/remove",
            web::post().to(remove),
        );
}

/// GET /dashboard/members
async fn members_page(
    member: Member,
    store: web::Data<Store>,
    query: web::Query<NoticeQuery>,
) -> HttpResponse {
    let notice = match query.notice.as_deref() {
        Some("role-changed") => Some("The role is changed."),
        Some("removed") => Some("The member is removed; their sessions here have ended."),
        Some("added") => Some("They are a member now, and sign in with the password they have."),
        Some("added-mailed") => Some("They are a member now, and a letter tells them so; they sign in with the password they have."),
        _ => None,
    };
    list(&member, &store, StatusCode::OK, notice, None).await
}

async fn list(
    member: &Member,
    store: &Store,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> HttpResponse {
    let (actor, org_id) = (member.actor(), member.session.membership.org_id.clone());
    let Ok(listed) = store
        .read(move |tx| members::list(tx, &actor, &org_id))
        .await
    else {
        return message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "keygate cannot read the members right now.",
            "/dashboard/members",
        );
    };
    let own = member.session.membership.role();
    let may_manage = own.may_manage_members();
    let rows = listed
        .iter()
        .map(|(user, membership)| MemberRow {
            user_id: user.id.to_string(),
            email: user.email.clone(),
            name: user.display_name.clone().unwrap_or_default(),
            role: membership.role().as_str(),
            status: member_status(user),
            joined_at: membership
                .created_at
                .and_utc()
                .format("%Y-%m-%d %H:%M UTC")
                .to_string(),
            changeable: may_manage && own.may_grant(membership.role()),
            is_self: user.id == member.session.user.id,
        })
        .collect();
    render(
        status,
        MembersPage {
            nav: member.nav("members"),
            may_manage,
            grantable: Role::ALL
                .into_iter()
                .filter(|r| may_manage && own.may_grant(*r))
                .map(Role::as_str)
                .collect(),
            members: rows,
            notice,
            error,
        },
    )
}

/// What a members use case's refusal says on the page.
fn refusal(error: &UserError) -> (StatusCode, String) {
    match error {
        UserError::InvalidEmail | UserError::InvalidName => {
            (StatusCode::BAD_REQUEST, error.to_string())
        }
        UserError::EmailTaken
        | UserError::AlreadyMember
        | UserError::AccountDisabled
        | UserError::LastOwner => (StatusCode::CONFLICT, error.to_string()),
        UserError::RoleBeyond { .. } | UserError::Authority(_) => {
            (StatusCode::FORBIDDEN, error.to_string())
        }
        UserError::NotFound | UserError::UnknownOrg | UserError::InvalidToken => (
            StatusCode::NOT_FOUND,
            "This organization has no such member.".to_owned(),
        ),
        UserError::Random(_) | UserError::Store(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "keygate cannot change the members right now; try again shortly.".to_owned(),
        ),
    }
}

/// The checks of every post here — same origin, the session's CSRF token, a role that
/// manages members — answered with the refusal's page, or `None` when all pass.
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
            "Your role in this organization reads the members; an owner or an admin changes them.",
            "/dashboard/members",
        ));
    }
    None
}

fn role_of(text: &str) -> Result<Role, (StatusCode, String)> {
    Role::parse(text).ok_or((
        StatusCode::BAD_REQUEST,
        "Choose a role: owner, admin, developer or viewer.".to_owned(),
    ))
}

#[derive(Deserialize)]
struct InviteForm {
    csrf: String,
    email: String,
    #[serde(default)]
    name: String,
    role: String,
}

/// POST /dashboard/members — invites a person; a setup link, when they need one, is
/// shown this once.
async fn invite(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    mailer: web::Data<Mailer>,
    form: web::Form<InviteForm>,
) -> HttpResponse {
    let InviteForm {
        csrf,
        email,
        name,
        role,
    } = form.into_inner();
    if let Some(page) = refusal_of_post(&req, &settings, &member, &csrf) {
        return page;
    }
    let role = match role_of(&role) {
        Ok(role) => role,
        Err((status, text)) => return list(&member, &store, status, None, Some(&text)).await,
    };
    let (actor, org_id) = (member.actor(), member.session.membership.org_id.clone());
    let now = clock.now().naive_utc();
    let email = email.trim().to_owned();
    let asked = email.clone();
    let invited = store
        .write(move |tx| {
            let name = Some(name.as_str()).filter(|n| !n.trim().is_empty());
            members::invite(tx, &actor, &org_id, &asked, name, role, now)
        })
        .await;
    let mailed = |invited: &members::Invitation| {
        letters::mail_invitation(&mailer, invited, settings.issuer.base())
    };
    match invited {
        Ok(invited) if invited.setup_token.is_none() => match mailed(&invited) {
            Some(true) => see_other("/dashboard/members?notice=added-mailed").finish(),
            _ => see_other("/dashboard/members?notice=added").finish(),
        },
        Ok(invited) => {
            let mailed = mailed(&invited);
            let setup_url = invited
                .setup_token
                .as_ref()
                .map(|token| service::setup_url(settings.issuer.base(), token));
            let mut response = render(
                StatusCode::CREATED,
                MemberInvited {
                    nav: member.nav("members"),
                    email: &invited.user.email,
                    member_role: role.as_str(),
                    setup_url,
                    mailed,
                },
            );
            response.headers_mut().insert(
                actix_web::http::header::CACHE_CONTROL,
                actix_web::http::header::HeaderValue::from_static("no-store"),
            );
            response
        }
        Err(error) => {
            let (status, text) = refusal(&error);
            list(&member, &store, status, None, Some(&text)).await
        }
    }
}

#[derive(Deserialize)]
struct RoleForm {
    csrf: String,
    role: String,
}

/// POST /dashboard/members/{user_id}/role
async fn change_role(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    user_id: web::Path<String>,
    form: web::Form<RoleForm>,
) -> HttpResponse {
    if let Some(page) = refusal_of_post(&req, &settings, &member, &form.csrf) {
        return page;
    }
    let role = match role_of(&form.role) {
        Ok(role) => role,
        Err((status, text)) => return list(&member, &store, status, None, Some(&text)).await,
    };
    let (actor, org_id) = (member.actor(), member.session.membership.org_id.clone());
    let user_id = UserId::from(user_id.into_inner());
    let now = clock.now().naive_utc();
    let changed = store
        .write(move |tx| members::change_role(tx, &actor, &org_id, &user_id, role, now))
        .await;
    match changed {
        Ok(_) => see_other("/dashboard/members?notice=role-changed").finish(),
        Err(error) => {
            let (status, text) = refusal(&error);
            list(&member, &store, status, None, Some(&text)).await
        }
    }
}

#[derive(Deserialize)]
struct RemoveForm {
    csrf: String,
    /// The confirmation box: a removal is not undone by a click.
    confirm: Option<String>,
}

/// POST /dashboard/members/{user_id}/remove
async fn remove(
    req: HttpRequest,
    member: Member,
    settings: web::Data<DashboardSettings>,
    store: web::Data<Store>,
    clock: web::Data<dyn Clock>,
    user_id: web::Path<String>,
    form: web::Form<RemoveForm>,
) -> HttpResponse {
    if let Some(page) = refusal_of_post(&req, &settings, &member, &form.csrf) {
        return page;
    }
    if form.confirm.as_deref() != Some("yes") {
        let text = "Tick the box to confirm the removal.";
        return list(&member, &store, StatusCode::BAD_REQUEST, None, Some(text)).await;
    }
    let (actor, org_id) = (member.actor(), member.session.membership.org_id.clone());
    let user_id = UserId::from(user_id.into_inner());
    let removing_self = user_id == member.session.user.id;
    let now = clock.now().naive_utc();
    let removed = store
        .write(move |tx| members::remove(tx, &actor, &org_id, &user_id, now))
        .await;
    match removed {
        // Removing oneself ended this very session.
        Ok(_) if removing_self => see_other("/sign-in?notice=signed-out").finish(),
        Ok(_) => see_other("/dashboard/members?notice=removed").finish(),
        Err(error) => {
            let (status, text) = refusal(&error);
            list(&member, &store, status, None, Some(&text)).await
        }
    }
}
