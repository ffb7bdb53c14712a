//! `/v1/organization`: the caller's own organization — read with the `read` scope,
//! renamed and its second-factor requirement set with `admin`. Another organization
//! is not reachable here at all: the path names none, the credential's decides.

use actix_web::{web, HttpRequest, HttpResponse};
use diesel::Connection;
use serde::Deserialize;
use serde_json::Value;

use super::service;
use super::view::OrgView;
use crate::audit::Source;
use crate::clock::Clock;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::routes::Endpoint;
use crate::scope::Scope;
use crate::store::Store;

/// What a caller may change of its organization; at least one field.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    /// 1 to 200 characters, no control characters; trimmed.
    #[schema(min_length = 1, max_length = 200, example = "Acme Ltd")]
    name: Option<String>,
    /// Whether members must sign in with a second factor (TOTP); one without is sent
    /// to set one up from their next dashboard page on.
    second_factor_required: Option<bool>,
}

impl UpdateOrganization {
    /// The body as sent, refused with the field at fault: a known field of the wrong
    /// type names itself (serde's message would not), an unknown one or a body that
    /// is no object is refused by `deny_unknown_fields` and serde, and a body that
    /// changes nothing says what it may change.
    fn parse(body: Value) -> Result<Self, ApiError> {
        if let Value::Object(fields) = &body {
            let typed = [
                ("name", fields.get("name").map(Value::is_string), "a string"),
                (
                    "second_factor_required",
                    fields.get("second_factor_required").map(Value::is_boolean),
                    "true or false",
                ),
            ];
            for (field, right_type, expected) in typed {
                if right_type == Some(false) {
                    return Err(ApiError::invalid_request(
                        format!("{field}: must be {expected}"),
                        Some(field),
                    ));
                }
            }
        }
        let update: Self = serde_json::from_value(body)
            .map_err(|e| ApiError::invalid_request(format!("invalid JSON body: {e}"), None))?;
        if update.name.is_none() && update.second_factor_required.is_none() {
            return Err(ApiError::invalid_request(
                "send name, second_factor_required or both",
                None,
            ));
        }
        Ok(update)
    }
}

/// The routes of `/v1/organization`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        Endpoint::new("/v1/organization")
            .get(get_organization)
            .patch(update_organization),
    );
}

/// GET /v1/organization — scope `read`. The caller's organization.
#[utoipa::path(
    get,
    path = "/v1/organization",
    tag = "organization",
    responses((status = 200, description = "The caller's organization", body = OrgView), crate::openapi::responses::ResolverErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn get_organization(
    req: HttpRequest,
    who: Principal,
    store: web::Data<Store>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Read)?;
    let (actor, org_id) = (who.actor(Source::of(&req)), who.org().to_owned());
    let org = store
        .read(move |c| service::find(c, &actor, &org_id).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::Ok().json(OrgView::new(&org)))
}

/// PATCH /v1/organization — scope `admin`. Renames the caller's organization and/or
/// sets whether its members must sign in with a second factor, in one transaction;
/// each change is recorded in the audit log (a field set to what it is records
/// nothing). The tier is the operator's (`keygate org set-tier`).
#[utoipa::path(
    patch,
    path = "/v1/organization",
    tag = "organization",
    request_body = UpdateOrganization,
    responses((status = 200, description = "The organization as it is now", body = OrgView), crate::openapi::responses::ResolverErrors, crate::openapi::responses::JsonBodyErrors),
    security(("bearer" = []), ("apiKey" = []))
)]
pub async fn update_organization(
    req: HttpRequest,
    who: Principal,
    clock: web::Data<dyn Clock>,
    store: web::Data<Store>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::Admin)?;
    let UpdateOrganization {
        name,
        second_factor_required,
    } = UpdateOrganization::parse(body.into_inner())?;
    let (actor, org_id) = (who.actor(Source::of(&req)), who.org().to_owned());
    let now = clock.now().naive_utc();
    let org = store
        .write(move |c| {
            // Both changes or neither: each use case's own transaction nests in this one.
            c.transaction(|c| {
                let mut org = service::find(c, &actor, &org_id)?;
                if let Some(name) = &name {
                    org = service::rename(c, &actor, &org_id, name, now)?;
                }
                if let Some(required) = second_factor_required {
                    org = service::set_second_factor_required(c, &actor, &org_id, required, now)?;
                }
                Ok::<_, ApiError>(org)
            })
        })
        .await?;
    tracing::info!(org_id = %org.id, actor = %who.actor_label(), "organization settings changed");
    Ok(HttpResponse::Ok().json(OrgView::new(&org)))
}
