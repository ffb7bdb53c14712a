//! Signing-key rotation without a restart: the server picks up a key generated and
//! then activated in `keys/` (by the CLI, or another instance), and tokens signed by
//! the retired key keep verifying.

use std::time::Duration;

use keygate::tokens::signing_keys::{self, KeyAlg};

use crate::helpers::jwt::kid_of;
use crate::helpers::{eventually, TestApp};

#[actix_rt::test]
async fn a_key_generated_then_activated_on_disk_is_used_without_a_restart() {
    let app = TestApp::spawn_with(|s| s.keys_reload_interval = Duration::from_secs(1)).await;
    let client = app.management_client("read");
    let old_token = app.access_token(&client).await;
    let old_kid = kid_of(&old_token);

    // Generated: published in the JWKS, not yet signing.
    let dir = app.settings.keys_dir.clone();
    let new = signing_keys::generate(&dir, KeyAlg::ES256, chrono::Utc::now()).unwrap();
    eventually("the new key is published", || async {
        let jwks = app.jwks().await;
        jwks.keys
            .iter()
            .any(|k| k.common.key_id.as_deref() == Some(new.kid.as_str()))
    })
    .await;
    assert_eq!(
        kid_of(&app.access_token(&client).await),
        old_kid,
        "pending keys do not sign"
    );

    // Activated: signs new tokens; the retired key stays published and its tokens valid.
    signing_keys::activate(&dir, &new.kid, chrono::Utc::now()).unwrap();
    eventually("the new key signs", || async {
        kid_of(&app.access_token(&client).await) == new.kid
    })
    .await;
    let jwks = app.jwks().await;
    assert!(jwks
        .keys
        .iter()
        .any(|k| k.common.key_id.as_deref() == Some(old_kid.as_str())));
    for bearer in [old_token, app.access_token(&client).await] {
        let me = app
            .me(&[("Authorization", &format!("Bearer {bearer}"))])
            .await;
        assert_eq!(me.status(), 200, "tokens of both keys verify");
    }
}

/// generate → activate (the old key retires) → the old key's tokens verify until they
/// expire → remove → gone from the JWKS; every step under a running server.
#[actix_rt::test]
async fn the_whole_rotation_cycle_keeps_tokens_valid_until_they_expire() {
    use std::sync::Arc;

    use keygate::clock::{Clock, ManualClock};

    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let app = TestApp::spawn_with_clock(
        |s| s.keys_reload_interval = Duration::from_secs(1),
        clock.clone(),
    )
    .await;
    let client = app.management_client("read");
    let old_token = app.access_token(&client).await;
    let old_kid = kid_of(&old_token);
    let dir = app.settings.keys_dir.clone();
    let published = |kid: String| {
        let app = &app;
        async move {
            app.jwks()
                .await
                .keys
                .iter()
                .any(|k| k.common.key_id.as_deref() == Some(kid.as_str()))
        }
    };

    let new = signing_keys::generate(&dir, KeyAlg::ES256, chrono::Utc::now()).unwrap();
    eventually("published", || published(new.kid.clone())).await;
    signing_keys::activate(&dir, &new.kid, chrono::Utc::now()).unwrap();
    eventually("signing", || async {
        kid_of(&app.access_token(&client).await) == new.kid
    })
    .await;
    let bearer = format!("Bearer {old_token}");
    assert_eq!(
        app.me(&[("Authorization", &bearer)]).await.status(),
        200,
        "retired, valid"
    );

    // Past its exp (5 min) the old token is expired — the
    // signature still checks, so it says "expired", not "invalid".
    clock.advance(chrono::Duration::minutes(6));
    let expired = app.me(&[("Authorization", &bearer)]).await;
    crate::helpers::assert_api_error(expired, 401, "expired_token").await;

    // Removal is refused while tokens of the key could still be valid…
    assert!(signing_keys::remove(
        &dir,
        &old_kid,
        app.settings.access_token_ttl_max,
        chrono::Utc::now()
    )
    .is_err());
    // …and allowed once access_token_ttl_max has passed since its retirement.
    let later = clock.now() + chrono::Duration::hours(2);
    signing_keys::remove(&dir, &old_kid, app.settings.access_token_ttl_max, later).unwrap();
    eventually("unpublished", || async {
        !published(old_kid.clone()).await
    })
    .await;
    let unknown = app.me(&[("Authorization", &bearer)]).await;
    crate::helpers::assert_api_error(unknown, 401, "invalid_token").await;
    assert_eq!(kid_of(&app.access_token(&client).await), new.kid);
}
