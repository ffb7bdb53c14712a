//! Two keygate instances on one database (PostgreSQL when
//! `KEYGATE_TEST_DATABASE_URL` is set): whatever one does, the other sees at once.

use std::sync::Arc;

use keygate::clock::SystemClock;
use reqwest::Method;

use crate::helpers::{basic_auth, TestApp, TestKey};

#[actix_rt::test]
async fn two_instances_on_one_database_agree() {
    let app = TestApp::spawn().await;
    let other = app.spawn_sibling(Arc::new(SystemClock)).await;

    // A token issued by one verifies on the other (same keys, same issuer).
    let client = app.management_client("read");
    let token = app.access_token(&client).await;
    let me = app
        .http
        .get(format!("{other}/v1/me"))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    // An API key revoked through one is refused by the other on the next request.
    let TestKey { id, key } = app.operator_key("default", "read", None);
    let on_other = || {
        app.http
            .get(format!("{other}/v1/me"))
            .header("X-API-Key", key.as_str())
            .send()
    };
    assert_eq!(on_other().await.unwrap().status(), 200);
    let revoked = app
        .send(
            Method::DELETE,
            &format!("/v1/api-keys/{id}"),
            &app.admin_key,
        )
        .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(on_other().await.unwrap().status(), 401);

    // A refresh token rotated through one is spent on the other: presenting it there
    // is reuse, and the whole family dies.
    let refresher = app.refresh_client("read", None);
    let (_, first) = app.first_tokens(&refresher).await;
    let rotated: serde_json::Value = app
        .refresh(&refresher, &first, &[])
        .await
        .json()
        .await
        .unwrap();
    let second = rotated["refresh_token"].as_str().unwrap();
    let replay = app
        .http
        .post(format!("{other}/oauth/token"))
        .header(
            "Authorization",
            basic_auth(&refresher.id, &refresher.secret),
        )
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", first.as_str()),
        ])
        .send()
        .await
        .unwrap();
    crate::helpers::assert_oauth_error(replay, 400, "invalid_grant").await;
    let after_reuse = app.refresh(&refresher, second, &[]).await;
    crate::helpers::assert_oauth_error(after_reuse, 400, "invalid_grant").await;
}
