//! The authorization endpoint's pages (`GET` and `POST /oauth/authorize`, RFC 6749
//! §4.1): a person who is not signed in is sent to sign in and back (the `Member`
//! extractor keeps the whole request in `next`); a signed-in person sees the consent
//! page — the app, the organization that registered it, the scopes in plain words,
//! the resource, Allow and Deny — unless they already allowed that app those scopes
//! (or more), and is sent back to the app with a code, or with `access_denied`.
//! A request that cannot be answered at the app's redirect URI is answered here, on
//! a page. The protocol is `oauth::authorization`'s; this module adds the person.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::handlers::{cross_site, message, render};
use super::pages::ConsentPage;
use super::security::{allow_form_redirect_to, see_other};
use super::session::Member;
use super::DashboardSettings;
use crate::audit::{self, Change, Target};
use crate::clients::{self, Client};
use crate::clock::Clock;
use crate::consents;
use crate::ids::ClientId;
use crate::oauth::authorization::{
    self, AuthorizationRequest, Failure, NotRedirected, Person, Refused, MAX_REQUEST_BYTES,
};
use crate::scope::{in_plain_words, ScopeSet};
use crate::store::Store;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth/authorize", web::get().to(authorize_page))
        .route("/oauth/authorize", web::post().to(decide));
}

/// What a turn of the endpoint ends in.
enum Answer {
    /// Back to the app: a code, or an error at its redirect URI.
    Redirect(String),
    /// The consent page, with what it shows.
    Consent(Box<ConsentView>),
    /// A request that cannot go back to the app.
    Page(NotRedirected),
}

struct ConsentView {
    app_name: String,
    app_org: String,
    /// The app is the person's own organization's.
    same_org: bool,
    scope: ScopeSet,
    resource: Option<String>,
    redirect_uri: String,
}

/// The decision posted from the consent page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Decision {
    Allow,
    Deny,
}

/// GET /oauth/authorize
async fn authorize_page(
    req: HttpRequest,
    member: Member,
    store: web::Data<Store>,
    settings: web::Data<DashboardSettings>,
    clock: web::Data<dyn Clock>,
) -> HttpResponse {
    let request = match AuthorizationRequest::parse(req.query_string(), &[]) {
        Ok(request) => request,
        Err(refused) => return refused_page(&refused),
    };
    // `prompt=consent` (OpenID Connect Core §3.1.2.1): ask again even if remembered.
    let ask_again = request.param("prompt") == Some("consent");
    let answer = serve(
        &member,
        &store,
        &settings,
        &clock,
        request.clone(),
        None,
        ask_again,
    )
    .await;
    respond(answer, &member, &request)
}

/// POST /oauth/authorize — Allow or Deny, from the consent page.
async fn decide(
    req: HttpRequest,
    member: Member,
    body: web::Bytes,
    store: web::Data<Store>,
    settings: web::Data<DashboardSettings>,
    clock: web::Data<dyn Clock>,
) -> HttpResponse {
    if body.len() > MAX_REQUEST_BYTES + 512 {
        return refused_page(&NotRedirected(
            "the authorization request is too long (at most 2 KiB)".into(),
        ));
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return refused_page(&NotRedirected("the form is not UTF-8".into()));
    };
    let field = |name: &str| {
        url::form_urlencoded::parse(text.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    if !member.posted_from_own_page(&req, &settings.issuer, field("csrf").as_deref()) {
        return cross_site();
    }
    let decision = match field("decision").as_deref() {
        Some("allow") => Decision::Allow,
        Some("deny") => Decision::Deny,
        _ => {
            return refused_page(&NotRedirected(
                "choose Allow or Deny on the consent page".into(),
            ))
        }
    };
    let request = match AuthorizationRequest::parse(text, &["csrf", "decision"]) {
        Ok(request) => request,
        Err(refused) => return refused_page(&refused),
    };
    let answer = serve(
        &member,
        &store,
        &settings,
        &clock,
        request.clone(),
        Some(decision),
        false,
    )
    .await;
    respond(answer, &member, &request)
}

/// Checks the request for the signed-in person and, with a decision (or a consent
/// they gave before), acts on it: one store turn, whose one write records the
/// decision.
async fn serve(
    member: &Member,
    store: &Store,
    settings: &DashboardSettings,
    clock: &web::Data<dyn Clock>,
    request: AuthorizationRequest,
    decision: Option<Decision>,
    ask_again: bool,
) -> Result<Answer, Failure> {
    let user_id = member.session.user.id.clone();
    let org_id = member.session.membership.org_id.clone();
    let holds = member
        .session
        .membership
        .role()
        .scopes_within(&settings.known_scopes);
    let issuer = settings.issuer.clone();
    let default_audience = settings.default_audience.clone();
    let actor = member.actor();
    let now = clock.now().naive_utc();
    // Read outside a write; only what it decides is written, in one write (SQLite has
    // one writer, and every signed-in page would otherwise queue for it).
    store
        .read(move |tx| {
            let person = Person {
                user_id: &user_id,
                org_id: &org_id,
                holds: &holds,
            };
            let client = match request.client_id() {
                Some(id) => clients::repo::find_in_any_org(tx, &ClientId::from(id))?,
                None => None,
            };
            let solicitation =
                match authorization::check(&request, client.as_ref(), &person, &default_audience) {
                    Ok(solicitation) => solicitation,
                    Err(Refused::Page(page)) => return Ok(Answer::Page(page)),
                    Err(Refused::Redirect(error)) => {
                        return Ok(Answer::Redirect(error.location(&issuer)))
                    }
                    Err(Refused::Failed(error)) => return Err(error),
                };
            // `check` found the client, live, for a solicitation to exist.
            let Some(client) = client else {
                return Err(Failure::Internal("a solicitation without its client"));
            };
            let by = actor.by();
            let target = Target {
                org_id: &org_id,
                id: client.id.as_str(),
            };
            let remembered = !ask_again
                && consents::repo::find(tx, &user_id, &org_id, &client.id)?
                    .is_some_and(|consent| consent.covers(&solicitation.scope));
            let consent = match (decision, remembered) {
                (Some(Decision::Deny), _) => {
                    let change = Change::OAuthDenied {
                        user_id: user_id.as_str(),
                    };
                    tx.write(|tx| audit::repo::record(tx, target, by, change, now))?;
                    return Ok(Answer::Redirect(authorization::deny(solicitation, &issuer)));
                }
                (Some(Decision::Allow), _) => "given",
                (None, true) => "remembered",
                (None, false) => {
                    return Ok(Answer::Consent(Box::new(consent_view(
                        tx,
                        &client,
                        &org_id,
                        &solicitation,
                    )?)))
                }
            };
            let scope = solicitation.scope.clone();
            tx.write(|tx| {
                // Read again in the write: withdrawn (or narrowed) since, it is asked for
                // once more rather than acted on.
                let still_remembered = consent != "remembered"
                    || consents::repo::find(tx, &user_id, &org_id, &client.id)?
                        .is_some_and(|consent| consent.covers(&scope));
                if !still_remembered {
                    let page = consent_view(tx, &client, &org_id, &solicitation)?;
                    return Ok(Answer::Consent(Box::new(page)));
                }
                if consent == "given" {
                    consents::repo::remember(tx, &user_id, &org_id, &client.id, &scope, now)?;
                }
                let location =
                    authorization::approve(tx, solicitation, &client, &person, &issuer, now)?;
                let change = Change::OAuthAuthorized {
                    user_id: user_id.as_str(),
                    scope: &scope.to_string(),
                    consent,
                };
                audit::repo::record(tx, target, by, change, now)?;
                Ok(Answer::Redirect(location))
            })
        })
        .await
}

fn consent_view(
    tx: &mut crate::store::Tx<'_>,
    client: &Client,
    person_org: &crate::ids::OrgId,
    solicitation: &authorization::Solicitation,
) -> Result<ConsentView, Failure> {
    let app_org = crate::orgs::repo::find(tx, &client.org_id)?
        .map(|org| org.name)
        .unwrap_or_default();
    Ok(ConsentView {
        app_name: client.name.clone(),
        app_org,
        same_org: &client.org_id == person_org,
        scope: solicitation.scope.clone(),
        resource: solicitation.resource.clone(),
        redirect_uri: solicitation.redirect_uri.clone(),
    })
}

fn respond(
    answer: Result<Answer, Failure>,
    member: &Member,
    request: &AuthorizationRequest,
) -> HttpResponse {
    match answer {
        Ok(Answer::Redirect(location)) => {
            let mut response = see_other(&location);
            response.insert_header((header::CACHE_CONTROL, "no-store"));
            response.finish()
        }
        Ok(Answer::Page(refused)) => refused_page(&refused),
        Ok(Answer::Consent(view)) => {
            let scopes = view
                .scope
                .iter()
                .map(|scope| (scope, in_plain_words(scope)))
                .collect();
            let host = redirect_host(&view.redirect_uri);
            let mut response = render(
                StatusCode::OK,
                ConsentPage {
                    csrf: member.csrf(),
                    app_name: &view.app_name,
                    app_org: &view.app_org,
                    same_org: view.same_org,
                    user_email: &member.session.user.email,
                    org_name: &member.org_name,
                    scopes,
                    resource: view.resource.as_deref(),
                    redirect_host: &host,
                    fields: request.fields(),
                },
            );
            allow_form_redirect_to(&mut response, &view.redirect_uri);
            response
        }
        Err(error) => {
            tracing::error!(%error, "the authorization endpoint failed");
            if !matches!(error, Failure::Store(_)) {
                return message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "keygate could not finish this request; go back to the app and try again.",
                    "/dashboard",
                );
            }
            message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "keygate could not finish this request; go back to the app and try again.",
                "/dashboard",
            )
        }
    }
}

/// Where the consent page says the person goes back to.
fn redirect_host(redirect_uri: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(url) => match url.host_str() {
            Some(host) => host.to_owned(),
            None => format!("{}:", url.scheme()),
        },
        Err(_) => String::new(),
    }
}

fn refused_page(refused: &NotRedirected) -> HttpResponse {
    message(
        StatusCode::BAD_REQUEST,
        "This request cannot be completed",
        &refused.0,
        "/dashboard",
    )
}
