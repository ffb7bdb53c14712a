//! RFC 7591 `token_endpoint_auth_method`: stored as registered (RFC 7591, RFC 7592,
//! `/v1/clients`), read back as registered, and a client that named one is held to it
//! at the token, revocation and introspection endpoints; one that named none accepts
//! either.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{
    assert_api_error, assert_oauth_error, basic_auth, header, Registered, TestApp, TestClient,
};

const CC: [(&str, &str); 1] = [("grant_type", "client_credentials")];

/// (status of Basic, status of client_secret_post) at `path` (`token` or an action).
async fn statuses(app: &TestApp, client: &TestClient, path: &str) -> (u16, u16) {
    let params: Vec<(&str, &str)> = if path == "/oauth/token" {
        CC.to_vec()
    } else {
        vec![("token", "kgr_unknown")]
    };
    let basic = app
        .http
        .post(app.url(path))
        .header("Authorization", basic_auth(&client.id, &client.secret))
        .form(&params)
        .send()
        .await
        .unwrap();
    let mut with_secret = params.clone();
    with_secret.push(("client_id", &client.id));
    with_secret.push(("client_secret", &client.secret));
    let post = app
        .http
        .post(app.url(path))
        .form(&with_secret)
        .send()
        .await
        .unwrap();
    (basic.status().as_u16(), post.status().as_u16())
}

const PATHS: [&str; 3] = ["/oauth/token", "/oauth/revoke", "/oauth/introspect"];

#[actix_rt::test]
async fn a_client_secret_post_registration_reads_back_as_such_and_is_held_to_it() {
    let app = TestApp::spawn().await;
    let Registered {
        client,
        registration_token: token,
        path,
        body,
        ..
    } = app.registered(
        json!({"client_name": "poster", "scope": "read", "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_post");
    // RFC 7592 read-back: as registered.
    let read = app
        .http
        .get(app.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let read: serde_json::Value = read.json().await.unwrap();
    assert_eq!(read["token_endpoint_auth_method"], "client_secret_post");
    // And in the management API.
    let view: serde_json::Value = app
        .get_json(&format!("/v1/clients/{}", client.id), &app.admin_key)
        .await;
    assert_eq!(view["token_endpoint_auth_method"], "client_secret_post");

    for path in PATHS {
        assert_eq!(statuses(&app, &client, path).await, (401, 200), "{path}");
    }
    // Basic with the right secret: told which method to use (the secret verified),
    // with the challenge Basic credentials always get.
    let response = app.token_basic(&client, &CC).await;
    let description = assert_oauth_error(response, 401, "invalid_client").await;
    assert!(description.contains("client_secret_post"), "{description}");
    // A wrong secret learns nothing about the registered method.
    let wrong = client.with_secret(&format!("{}x", client.secret));
    let response = app.token_basic(&wrong, &CC).await;
    let description = assert_oauth_error(response, 401, "invalid_client").await;
    assert_eq!(description, "client authentication failed");
}

#[actix_rt::test]
async fn a_client_secret_basic_registration_refuses_body_credentials() {
    let app = TestApp::spawn().await;
    let client = app.registered(
        json!({"client_name": "basic", "scope": "read", "token_endpoint_auth_method": "client_secret_basic"}),
    )
    .await
    .client;
    for path in PATHS {
        assert_eq!(statuses(&app, &client, path).await, (200, 400), "{path}");
    }
    let response = app.token_post(&client, &CC).await;
    assert_eq!(header(&response, "www-authenticate"), "");
    let description = assert_oauth_error(response, 400, "invalid_client").await;
    assert!(
        description.contains("Authorization header"),
        "{description}"
    );
    // The refresh grant too.
    let refresher = app.registered(
        json!({"client_name": "renewing", "scope": "read", "token_endpoint_auth_method": "client_secret_basic",
               "grant_types": ["client_credentials", "refresh_token"]}),
    )
    .await
    .client;
    let (_, refresh_token) = app.first_tokens(&refresher).await;
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
    ];
    let response = app.token_post(&refresher, &refresh).await;
    assert_oauth_error(response, 400, "invalid_client").await;
    assert_eq!(app.token_basic(&refresher, &refresh).await.status(), 200);
}

#[actix_rt::test]
async fn a_client_that_named_no_method_accepts_both_and_reads_back_the_default() {
    let app = TestApp::spawn().await;
    let Registered {
        client,
        registration_token: token,
        path,
        body,
        ..
    } = app
        .registered(json!({"client_name": "either", "scope": "read"}))
        .await;
    // RFC 7591 §2's default, which it accepts (as it accepts client_secret_post).
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    for path in PATHS {
        assert_eq!(statuses(&app, &client, path).await, (200, 200), "{path}");
    }
    // Clients made by the CLI or the management API without one: the same.
    let cli = app.client_with_scope("read");
    assert_eq!(statuses(&app, &cli, "/oauth/token").await, (200, 200));

    // RFC 7592 PUT names one: held to it from then on; a PUT without one (RFC 7592
    // §2.2: omitted means removed) makes it accept either again.
    let put = |token: String, method: Option<&str>| {
        let mut body = json!({"client_id": client.id, "client_name": "either", "scope": "read"});
        if let Some(method) = method {
            body["token_endpoint_auth_method"] = json!(method);
        }
        let request = app.http.put(app.url(&path)).bearer_auth(token).json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let updated = put(token, Some("client_secret_post")).await;
    assert_eq!(updated["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(statuses(&app, &client, "/oauth/token").await, (401, 200));
    let token = updated["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let updated = put(token, None).await;
    assert_eq!(updated["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(statuses(&app, &client, "/oauth/token").await, (200, 200));
}

#[actix_rt::test]
async fn the_management_api_sets_and_clears_the_method() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json("/v1/clients", &app.admin_key, &json!({"name": "m", "scopes": ["read"], "token_endpoint_auth_method": "client_secret_basic"})).await;
    assert_eq!(response.status(), 201);
    let created: serde_json::Value = response.json().await.unwrap();
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    let client = TestClient::from_created(&created);
    assert_eq!(statuses(&app, &client, "/oauth/token").await, (200, 400));

    let patch = |body: serde_json::Value| {
        app.with_key(
            Method::PATCH,
            &format!("/v1/clients/{}", client.id),
            &app.admin_key,
        )
        .json(&body)
        .send()
    };
    let switched: serde_json::Value =
        patch(json!({"token_endpoint_auth_method": "client_secret_post"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(switched["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(statuses(&app, &client, "/oauth/token").await, (401, 200));
    let cleared: serde_json::Value = patch(json!({"token_endpoint_auth_method": null}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(cleared["token_endpoint_auth_method"].is_null(), "{cleared}");
    assert_eq!(statuses(&app, &client, "/oauth/token").await, (200, 200));

    let response = patch(json!({"token_endpoint_auth_method": "private_key_jwt"}))
        .await
        .unwrap();
    let body = assert_api_error(response, 400, "invalid_request").await;
    assert_eq!(
        body["error"]["details"]["field"],
        "token_endpoint_auth_method"
    );
}
