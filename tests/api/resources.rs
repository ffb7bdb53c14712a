//! RFC 8707 resource indicators: a client registered for several audiences asks for a
//! token for one of them with `resource` (or `audience`, as Auth0's clients send it);
//! its `aud` is what resource servers and forward-auth check.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{
    assert_api_error, assert_oauth_error, basic_auth, TestApp, TestClient, ISSUER,
};

const BILLING: &str = "https://billing.example";
const ORDERS: &str = "https://orders.example";
const OTHER: &str = "https://other.example";

/// The JSON of a 200 token response.
async fn issued(response: reqwest::Response) -> serde_json::Value {
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The `aud` of a token response, verified as a resource server for `audience` would.
async fn aud_of(app: &TestApp, body: &serde_json::Value, audience: &str) -> String {
    let claims = app
        .verify(body["access_token"].as_str().unwrap(), audience)
        .await;
    claims["aud"].as_str().unwrap().to_owned()
}

async fn forward_auth(app: &TestApp, token: &serde_json::Value, audience: &str) -> u16 {
    app.http
        .get(app.url("/v1/forward-auth"))
        .query(&[("audience", audience)])
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

const CC: (&str, &str) = ("grant_type", "client_credentials");

/// RFC 7592 PUT of `partner`'s metadata plus `extension`; keeps the new registration
/// access token in `token`.
async fn put(
    app: &TestApp,
    path: &str,
    client: &TestClient,
    token: &mut String,
    extension: serde_json::Value,
    expected: u16,
) -> serde_json::Value {
    let mut body = json!({"client_id": client.id, "client_name": "partner", "scope": "read"});
    body.as_object_mut()
        .unwrap()
        .extend(extension.as_object().unwrap().clone());
    let response = app
        .http
        .put(app.url(path))
        .bearer_auth(&*token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, expected, "{body}");
    if let Some(next) = body["registration_access_token"].as_str() {
        *token = next.to_owned();
    }
    body
}

#[actix_web::test]
async fn each_resource_gets_its_own_token() {
    let app = TestApp::spawn().await;
    let management = format!("{ISSUER}/v1");
    let (client, _) = app.registered_client(json!({"name": "apis", "scopes": ["read", "admin"], "audiences": [BILLING, ORDERS, management],
               "audience": ORDERS}),
    )
    .await;
    // No resource: the default audience.
    let default = issued(app.token_basic(&client, &[CC]).await).await;
    assert_eq!(aud_of(&app, &default, ORDERS).await, ORDERS);
    // Each resource, by `resource` (RFC 8707) and by `audience` (Auth0), in the form
    // and in a JSON body.
    for audience in [BILLING, ORDERS, management.as_str()] {
        let by_resource = issued(
            app.token_basic(&client, &[CC, ("resource", audience)])
                .await,
        )
        .await;
        assert_eq!(aud_of(&app, &by_resource, audience).await, audience);
        let by_audience =
            issued(app.token_post(&client, &[CC, ("audience", audience)]).await).await;
        assert_eq!(aud_of(&app, &by_audience, audience).await, audience);
        let as_json = app
            .token_raw(
                &[
                    ("Content-Type", "application/json"),
                    ("Authorization", &basic_auth(&client.id, &client.secret)),
                ],
                json!({"grant_type": "client_credentials", "resource": audience}).to_string(),
            )
            .await;
        let as_json = issued(as_json).await;
        assert_eq!(aud_of(&app, &as_json, audience).await, audience);
    }
    // A gateway that names a route's audience admits only that resource's tokens.
    let billing = issued(app.token_basic(&client, &[CC, ("resource", BILLING)]).await).await;
    assert_eq!(forward_auth(&app, &billing, BILLING).await, 200);
    assert_eq!(forward_auth(&app, &billing, ORDERS).await, 401);
    assert_eq!(forward_auth(&app, &default, ORDERS).await, 200);
    // A token for keygate's own API manages keygate; the others do not.
    let manager = issued(
        app.token_basic(&client, &[CC, ("resource", &management)])
            .await,
    )
    .await;
    let list = |token: &serde_json::Value| {
        app.http
            .get(app.url("/v1/clients"))
            .bearer_auth(token["access_token"].as_str().unwrap())
            .send()
    };
    assert_eq!(list(&manager).await.unwrap().status(), 200);
    assert_eq!(list(&billing).await.unwrap().status(), 401);
    // Introspection reports the token's aud.
    let described: serde_json::Value = app
        .http
        .post(app.url("/oauth/introspect"))
        .header("Authorization", basic_auth(&client.id, &client.secret))
        .form(&[("token", billing["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(described["aud"], BILLING);
}

#[actix_web::test]
async fn a_resource_the_client_may_not_have_is_invalid_target() {
    let app = TestApp::spawn().await;
    let (client, _) = app
        .registered_client(json!({"name": "billing", "scopes": ["read"], "audiences": [BILLING]}))
        .await;
    for resource in [
        OTHER,
        ISSUER,
        "https://billing.example/",
        "https://billing.example/invoices",
    ] {
        let response = app
            .token_basic(&client, &[CC, ("resource", resource)])
            .await;
        let description = assert_oauth_error(response, 400, "invalid_target").await;
        assert!(description.contains("not one this client"), "{description}");
        let response = app
            .token_basic(&client, &[CC, ("audience", resource)])
            .await;
        assert_oauth_error(response, 400, "invalid_target").await;
    }
    // Not an absolute URI, or with a fragment (RFC 8707 §2).
    for resource in [
        "billing",
        "/billing",
        "https://billing.example#x",
        "https://bill ing.example",
    ] {
        let response = app
            .token_basic(&client, &[CC, ("resource", resource)])
            .await;
        let description = assert_oauth_error(response, 400, "invalid_target").await;
        assert!(description.contains("absolute URI"), "{description}");
    }
    // Client authentication comes first: a wrong secret learns nothing of audiences.
    let wrong = client.with_secret(&format!("{}x", client.secret));
    let response = app.token_basic(&wrong, &[CC, ("resource", OTHER)]).await;
    assert_oauth_error(response, 401, "invalid_client").await;
    // A client registered without audiences may have the server's default_audience
    // (the issuer here), and nothing else.
    let plain = app.client_with_scope("read");
    let response = issued(app.token_basic(&plain, &[CC, ("resource", ISSUER)]).await).await;
    assert_eq!(aud_of(&app, &response, ISSUER).await, ISSUER);
    let response = app.token_basic(&plain, &[CC, ("resource", BILLING)]).await;
    assert_oauth_error(response, 400, "invalid_target").await;
}

#[actix_web::test]
async fn several_resources_are_refused_with_invalid_target() {
    let app = TestApp::spawn().await;
    let (client, _) = app
        .registered_client(
            json!({"name": "apis", "scopes": ["read"], "audiences": [BILLING, ORDERS]}),
        )
        .await;
    for extra in [
        vec![("resource", BILLING), ("resource", ORDERS)],
        vec![("resource", BILLING), ("audience", ORDERS)],
        vec![("resource", BILLING), ("resource", OTHER)],
    ] {
        let mut form = vec![CC];
        form.extend(extra);
        let response = app.token_basic(&client, &form).await;
        let description = assert_oauth_error(response, 400, "invalid_target").await;
        assert!(description.contains("one resource"), "{description}");
        assert!(description.contains("single aud"), "{description}");
    }
    let response = app
        .token_raw(
            &[
                ("Content-Type", "application/json"),
                ("Authorization", &basic_auth(&client.id, &client.secret)),
            ],
            json!({"grant_type": "client_credentials", "resource": [BILLING, ORDERS]}).to_string(),
        )
        .await;
    assert_oauth_error(response, 400, "invalid_target").await;
    // The same resource twice, or as both parameters, is one resource.
    let twice = app
        .token_basic(
            &client,
            &[
                CC,
                ("resource", ORDERS),
                ("resource", ORDERS),
                ("audience", ORDERS),
            ],
        )
        .await;
    assert_eq!(aud_of(&app, &issued(twice).await, ORDERS).await, ORDERS);
    // `audience` is not repeatable (it is Auth0's single parameter).
    let response = app
        .token_basic(&client, &[CC, ("audience", ORDERS), ("audience", ORDERS)])
        .await;
    assert_oauth_error(response, 400, "invalid_request").await;
}

#[actix_web::test]
async fn a_refresh_keeps_the_grants_resource_or_narrows_to_one_of_the_clients() {
    let app = TestApp::spawn().await;
    let (client, _) = app.registered_client(json!({"name": "renewing", "scopes": ["read"], "grant_types": ["client_credentials", "refresh_token"],
               "audiences": [BILLING, ORDERS]}),
    )
    .await;
    let refresh = |token: String, resource: Option<&'static str>| {
        let app = &app;
        let client = &client;
        async move {
            let mut extra = vec![];
            if let Some(resource) = resource {
                extra.push(("resource", resource));
            }
            app.refresh(client, &token, &extra).await
        }
    };
    let next = |body: &serde_json::Value| body["refresh_token"].as_str().unwrap().to_owned();

    // A grant for ORDERS: the family is bound to it.
    let first = issued(app.token_basic(&client, &[CC, ("resource", ORDERS)]).await).await;
    assert_eq!(aud_of(&app, &first, ORDERS).await, ORDERS);
    let kept = issued(refresh(next(&first), None).await).await;
    assert_eq!(aud_of(&app, &kept, ORDERS).await, ORDERS);
    let named = issued(refresh(next(&kept), Some(ORDERS)).await).await;
    assert_eq!(aud_of(&app, &named, ORDERS).await, ORDERS);
    // Another of the client's audiences is not what this grant allowed; the refusal
    // does not spend the token.
    let response = refresh(next(&named), Some(BILLING)).await;
    let description = assert_oauth_error(response, 400, "invalid_target").await;
    assert!(description.contains("another resource"), "{description}");
    let still = issued(refresh(next(&named), None).await).await;
    assert_eq!(aud_of(&app, &still, ORDERS).await, ORDERS);

    // A grant that named none: each refresh may narrow to one of the client's
    // audiences, or take the default.
    let open = issued(app.token_basic(&client, &[CC]).await).await;
    assert_eq!(aud_of(&app, &open, BILLING).await, BILLING);
    let narrowed = issued(refresh(next(&open), Some(ORDERS)).await).await;
    assert_eq!(aud_of(&app, &narrowed, ORDERS).await, ORDERS);
    let default = issued(refresh(next(&narrowed), None).await).await;
    assert_eq!(aud_of(&app, &default, BILLING).await, BILLING);
    let response = refresh(next(&default), Some(OTHER)).await;
    assert_oauth_error(response, 400, "invalid_target").await;

    // The client loses ORDERS: the family bound to it gets no more tokens.
    let response = app
        .patch_json(
            &format!("/v1/clients/{}", client.id),
            &app.admin_key,
            &json!({"audiences": [BILLING]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let response = refresh(next(&still), None).await;
    assert_oauth_error(response, 400, "invalid_target").await;
    let response = refresh(next(&default), Some(ORDERS)).await;
    assert_oauth_error(response, 400, "invalid_target").await;
    let fine = issued(refresh(next(&default), None).await).await;
    assert_eq!(aud_of(&app, &fine, BILLING).await, BILLING);
}

#[actix_web::test]
async fn the_management_api_round_trips_audiences() {
    let app = TestApp::spawn().await;
    let (client, created) = app
        .registered_client(
            json!({"name": "apis", "scopes": ["read"], "audiences": [BILLING, ORDERS, BILLING]}),
        )
        .await;
    assert_eq!(
        created["audiences"],
        json!([BILLING, ORDERS]),
        "repeats dropped"
    );
    assert_eq!(created["audience"], BILLING, "the first is the default");
    let path = format!("/v1/clients/{}", client.id);
    let get = || async { app.get_json(&path, &app.admin_key).await };
    let patch = |body: serde_json::Value| {
        app.with_key(Method::PATCH, &path, &app.admin_key)
            .json(&body)
            .send()
    };
    let shown = get().await;
    assert_eq!(shown["audiences"], json!([BILLING, ORDERS]));
    assert_eq!(shown["audience"], BILLING);

    // The default moves within the list.
    let moved: serde_json::Value = patch(json!({"audience": ORDERS}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(moved["audience"], ORDERS);
    assert_eq!(moved["audiences"], json!([BILLING, ORDERS]));
    let token = issued(app.token_basic(&client, &[CC]).await).await;
    assert_eq!(aud_of(&app, &token, ORDERS).await, ORDERS);
    // A new list without the default: its first becomes the default.
    let replaced: serde_json::Value = patch(json!({"audiences": [OTHER, BILLING]}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(replaced["audiences"], json!([OTHER, BILLING]));
    assert_eq!(replaced["audience"], OTHER);
    assert_eq!(get().await["audiences"], json!([OTHER, BILLING]));
    // One audience: the list is just the default.
    let single: serde_json::Value = patch(json!({"audiences": [BILLING]}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(single["audiences"], json!([BILLING]));
    assert_eq!(single["audience"], BILLING);
    let single: serde_json::Value = patch(json!({"audience": ORDERS}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(single["audiences"], json!([ORDERS]));
    // Cleared: the server's default_audience.
    let cleared: serde_json::Value = patch(json!({"audience": null, "audiences": []}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["audiences"], json!([]));
    assert!(cleared["audience"].is_null());
    let token = issued(app.token_basic(&client, &[CC]).await).await;
    assert_eq!(aud_of(&app, &token, ISSUER).await, ISSUER);

    // Refused, naming the field.
    let many: Vec<String> = (0..17).map(|i| format!("https://api{i}.example")).collect();
    for (body, field) in [
        (
            json!({"audiences": [BILLING], "audience": ORDERS}),
            "audience",
        ),
        (json!({"audiences": [BILLING, "not a uri"]}), "audience"),
        (json!({"audiences": ["https://a.example#frag"]}), "audience"),
        (json!({"audiences": many}), "audiences"),
        (json!({"audiences": BILLING}), ""),
    ] {
        let response = patch(body.clone()).await.unwrap();
        let error = assert_api_error(response, 400, "invalid_request").await;
        if !field.is_empty() {
            assert_eq!(error["error"]["details"]["field"], field, "{body}");
        }
    }
}

#[actix_web::test]
async fn dynamic_registration_carries_audiences_in_keygate_members() {
    let app = TestApp::spawn().await;
    let response = app
        .register_as(
            Some(&app.admin_key),
            &json!({"client_name": "partner", "scope": "read",
                      "keygate_audiences": [BILLING, ORDERS], "keygate_audience": ORDERS}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["keygate_audiences"], json!([BILLING, ORDERS]));
    assert_eq!(body["keygate_audience"], ORDERS);
    assert!(body.get("audience").is_none() && body.get("resource").is_none());
    let client = TestClient::from_created(&body);
    let token = issued(app.token_basic(&client, &[CC, ("resource", BILLING)]).await).await;
    assert_eq!(aud_of(&app, &token, BILLING).await, BILLING);
    let uri = body["registration_client_uri"].as_str().unwrap();
    let path = url::Url::parse(uri).unwrap().path().to_owned();
    let mut registration_token = body["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Omitted: kept as registered.
    let kept = put(
        &app,
        &path,
        &client,
        &mut registration_token,
        json!({}),
        200,
    )
    .await;
    assert_eq!(kept["keygate_audiences"], json!([BILLING, ORDERS]));
    assert_eq!(kept["keygate_audience"], ORDERS);
    // Widening through the registration access token is refused.
    let widened = put(
        &app,
        &path,
        &client,
        &mut registration_token,
        json!({"keygate_audiences": [BILLING, ORDERS, OTHER]}),
        400,
    )
    .await;
    assert_eq!(widened["error"], "invalid_client_metadata");
    // Narrowing is allowed.
    let narrowed = put(
        &app,
        &path,
        &client,
        &mut registration_token,
        json!({"keygate_audiences": [BILLING]}),
        200,
    )
    .await;
    assert_eq!(narrowed["keygate_audiences"], json!([BILLING]));
    assert_eq!(narrowed["keygate_audience"], BILLING);
    let response = app.token_basic(&client, &[CC, ("resource", ORDERS)]).await;
    assert_oauth_error(response, 400, "invalid_target").await;
    // A client registered without the members has the server's default only, and its
    // registration shows none.
    let response = app
        .register_as(
            Some(&app.admin_key),
            &json!({"client_name": "plain", "scope": "read"}),
        )
        .await;
    let plain: serde_json::Value = response.json().await.unwrap();
    assert!(plain.get("keygate_audiences").is_none(), "{plain}");
}
