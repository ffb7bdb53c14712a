//! People, through the use cases the dashboard calls, on the app's own database (both
//! backends): a setup link sets a password once and not after it expires; sign-in
//! goes through the argon2 budget and its throttle, answers one `Invalid` for every
//! failure, and starts a session that `session::resolve` finds until the person is
//! disabled or their password is set again.

use std::time::Duration;

use chrono::NaiveDateTime;
use keygate::argon2_budget::{Argon2Budget, FailedAuthThrottle};
use keygate::audit::Source;
use keygate::identity::authority::Actor;
use keygate::orgs;
use keygate::secret::Secret;
use keygate::store::StoreError;
use keygate::users::{password, service, session, sign_in, Role, SignInError, User, UserError};

use crate::helpers::{db, TestApp};

const PASSWORD: &str = "correct battery horse staple";
const IDLE: Duration = Duration::from_secs(30 * 60);
const LIFETIME: Duration = Duration::from_secs(12 * 3600);

fn now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

fn budget(failures_per_minute: u32) -> Argon2Budget {
    let throttle = FailedAuthThrottle::new(failures_per_minute, 100);
    Argon2Budget::new(2, Duration::from_secs(10), throttle).unwrap()
}

fn from(ip: &str) -> Source {
    Source(Some(ip.to_owned()))
}

/// A new member of the default organization and the secret of their setup link.
async fn person(app: &TestApp, email: &str, role: Role) -> (User, Secret) {
    let email = email.to_owned();
    app.store
        .write(move |tx| {
            let org = orgs::repo::find_by_slug(tx, orgs::DEFAULT_ORG_SLUG)
                .map_err(StoreError::from)?
                .ok_or(UserError::UnknownOrg)?;
            let cli = Actor::operator("cli");
            service::create_user(tx, &cli, &email, None, &org.id, role, now())
        })
        .await
        .unwrap()
}

async fn redeem(
    app: &TestApp,
    token: &str,
    password: &str,
    at: NaiveDateTime,
) -> Result<User, UserError> {
    password::validate(password, "x@example.com").unwrap();
    let hash = password::hash(password).unwrap();
    let token = token.to_owned();
    app.store
        .write(move |tx| service::redeem_link(tx, &token, &hash, at))
        .await
}

/// A member who has set `PASSWORD`.
async fn member(app: &TestApp, email: &str, role: Role) -> User {
    let (_, token) = person(app, email, role).await;
    redeem(app, token.expose(), PASSWORD, now()).await.unwrap()
}

async fn resolves(app: &TestApp, token: &str) -> Option<session::ActiveSession> {
    let token = token.to_owned();
    app.store
        .write(move |tx| session::resolve(tx, &token, now(), IDLE, LIFETIME))
        .await
        .unwrap()
}

async fn sign_in_as(
    app: &TestApp,
    budget: &Argon2Budget,
    email: &str,
    password: &str,
    source: &Source,
) -> Result<sign_in::SignedIn, SignInError> {
    let password = Secret::new(password.to_owned());
    sign_in::sign_in(&app.store, budget, email, &password, source, now()).await
}

#[actix_rt::test]
async fn a_setup_link_sets_the_password_once() {
    let app = TestApp::spawn().await;
    let (user, token) = person(&app, "ada@example.com", Role::Owner).await;
    assert!(user.password_hash.is_none());
    let set = redeem(&app, token.expose(), PASSWORD, now()).await.unwrap();
    assert!(set.password_hash.is_some() && set.password_changed_at.is_some());
    let again = redeem(&app, token.expose(), "another long password", now()).await;
    assert!(matches!(again, Err(UserError::InvalidToken)), "{again:?}");
    let budget = budget(10);
    let source = from("10.0.0.1");
    assert!(
        sign_in_as(&app, &budget, "ada@example.com", PASSWORD, &source)
            .await
            .is_ok()
    );
    let trail = db::audit_trail(&app.store, "default");
    let label = format!("user:{}", user.id);
    assert!(trail.contains(&"user.created cli".to_owned()), "{trail:?}");
    assert!(
        trail.contains(&format!("user.password_set {label}")),
        "{trail:?}"
    );
    assert!(
        trail.contains(&format!("user.signed_in {label}")),
        "{trail:?}"
    );
}

#[actix_rt::test]
async fn an_expired_setup_link_is_refused() {
    let app = TestApp::spawn().await;
    let (_, token) = person(&app, "ada@example.com", Role::Viewer).await;
    let later = now() + chrono::Duration::hours(25);
    let expired = redeem(&app, token.expose(), PASSWORD, later).await;
    assert!(
        matches!(expired, Err(UserError::InvalidToken)),
        "{expired:?}"
    );
    let made_up = redeem(&app, "kgut_made_up", PASSWORD, now()).await;
    assert!(matches!(made_up, Err(UserError::InvalidToken)));
}

#[actix_rt::test]
async fn signing_in_starts_a_session_that_resolves() {
    let app = TestApp::spawn().await;
    let user = member(&app, "Ada@Example.com", Role::Developer).await;
    let budget = budget(10);
    let signed_in = sign_in_as(
        &app,
        &budget,
        " ada@EXAMPLE.com ",
        PASSWORD,
        &from("10.0.0.1"),
    )
    .await
    .unwrap();
    assert_eq!(signed_in.user.id, user.id);
    assert_eq!(signed_in.membership.role(), Role::Developer);
    let token = signed_in.session_token.expose();
    assert!(token.starts_with("kgss_"));
    let active = resolves(&app, token).await.expect("the session resolves");
    assert_eq!(active.user.id, user.id);
    assert_eq!(active.membership.org_id, signed_in.membership.org_id);
    assert!(session::check_csrf(&active, signed_in.csrf_token.expose()));
    assert!(!session::check_csrf(&active, "forged"));
    let actor = active.actor(from("10.0.0.1"));
    assert_eq!(actor.label(), format!("user:{}", user.id));
    assert_eq!(
        actor.scope_ceiling().map(ToString::to_string).as_deref(),
        Some("read write")
    );

    // Signing in again rotates: the session the browser still presents ends.
    let password = Secret::new(PASSWORD.to_owned());
    let options = sign_in::SignInOptions {
        previous_session: Some(token),
        user_agent: Some("test"),
        lifetime: Some(LIFETIME),
    };
    let rotated = sign_in::sign_in_with(
        &app.store,
        &budget,
        "ada@example.com",
        &password,
        &from("10.0.0.1"),
        options,
        now(),
    )
    .await
    .unwrap();
    assert!(
        resolves(&app, token).await.is_none(),
        "the old session ended"
    );
    assert!(resolves(&app, rotated.session_token.expose())
        .await
        .is_some());

    // Signing out ends it.
    let (session_id, user) = (rotated.session_id.clone(), rotated.user.clone());
    let ended = app
        .store
        .write(move |tx| {
            keygate::users::account::end_own_session(tx, &user, &session_id, &Source(None), now())
        })
        .await
        .unwrap();
    assert!(ended);
    assert!(resolves(&app, rotated.session_token.expose())
        .await
        .is_none());
}

#[actix_rt::test]
async fn every_failure_is_the_same_invalid() {
    let app = TestApp::spawn().await;
    member(&app, "ada@example.com", Role::Owner).await;
    person(&app, "nopassword@example.com", Role::Owner).await;
    let budget = budget(10);
    let source = from("10.0.0.1");
    let mut messages = Vec::new();
    for (email, password) in [
        ("ada@example.com", "a wrong password here"),
        ("nobody@example.com", PASSWORD),
        ("nopassword@example.com", PASSWORD),
    ] {
        let refused = sign_in_as(&app, &budget, email, password, &source).await;
        match refused {
            Err(error @ SignInError::Invalid) => messages.push(error.to_string()),
            other => panic!("{email}: {other:?}"),
        }
    }
    messages.dedup();
    assert_eq!(messages.len(), 1, "{messages:?}");
}

#[actix_rt::test]
async fn a_disabled_persons_session_stops_resolving() {
    let app = TestApp::spawn().await;
    let user = member(&app, "ada@example.com", Role::Admin).await;
    let budget = budget(10);
    let source = from("10.0.0.1");
    let signed_in = sign_in_as(&app, &budget, "ada@example.com", PASSWORD, &source)
        .await
        .unwrap();
    let token = signed_in.session_token.expose();
    assert!(resolves(&app, token).await.is_some());
    let id = user.id.clone();
    let disabled = app
        .store
        .write(move |tx| service::disable_user(tx, &Actor::operator("cli"), &id, now()))
        .await
        .unwrap();
    assert!(disabled.is_disabled());
    assert!(resolves(&app, token).await.is_none());
    let again = sign_in_as(&app, &budget, "ada@example.com", PASSWORD, &source).await;
    assert!(matches!(again, Err(SignInError::Invalid)), "{again:?}");
    assert!(db::audit_trail(&app.store, "default").contains(&"user.disabled cli".to_owned()));
}

#[actix_rt::test]
async fn setting_the_password_ends_every_session() {
    let app = TestApp::spawn().await;
    let user = member(&app, "ada@example.com", Role::Viewer).await;
    let budget = budget(10);
    let source = from("10.0.0.1");
    let first = sign_in_as(&app, &budget, "ada@example.com", PASSWORD, &source)
        .await
        .unwrap();
    let second = sign_in_as(&app, &budget, "ada@example.com", PASSWORD, &source)
        .await
        .unwrap();
    let id = user.id.clone();
    let link = app
        .store
        .write(move |tx| service::new_setup_link(tx, &Actor::operator("cli"), &id, now()))
        .await
        .unwrap();
    let new_password = "a brand new long password";
    redeem(&app, link.expose(), new_password, now())
        .await
        .unwrap();
    for old in [&first, &second] {
        assert!(resolves(&app, old.session_token.expose()).await.is_none());
    }
    let old = sign_in_as(&app, &budget, "ada@example.com", PASSWORD, &source).await;
    assert!(matches!(old, Err(SignInError::Invalid)));
    assert!(
        sign_in_as(&app, &budget, "ada@example.com", new_password, &source)
            .await
            .is_ok()
    );
}

#[actix_rt::test]
async fn repeated_failures_for_one_email_are_throttled() {
    let app = TestApp::spawn().await;
    let user = member(&app, "ada@example.com", Role::Owner).await;
    let budget = budget(3);
    let source = from("10.0.0.9");
    for _ in 0..3 {
        let refused = sign_in_as(
            &app,
            &budget,
            "ada@example.com",
            "not the password!",
            &source,
        )
        .await;
        assert!(matches!(refused, Err(SignInError::Invalid)), "{refused:?}");
    }
    // The account is throttled from this address, whatever the case of the email and
    // even with the right password, before any argon2.
    for email in ["ada@example.com", "ADA@example.com"] {
        match sign_in_as(&app, &budget, email, PASSWORD, &source).await {
            Err(SignInError::Throttled { retry_after }) => assert!(retry_after > 0),
            other => panic!("{email}: {other:?}"),
        }
    }
    // The person can still sign in from elsewhere.
    let elsewhere = sign_in_as(
        &app,
        &budget,
        "ada@example.com",
        PASSWORD,
        &from("10.0.0.10"),
    )
    .await;
    assert_eq!(elsewhere.unwrap().user.id, user.id);
    let trail = db::audit_trail(&app.store, "default");
    assert_eq!(
        trail
            .iter()
            .filter(|e| e.starts_with("user.sign_in_failures"))
            .count(),
        1,
        "one event per burst: {trail:?}"
    );
}
