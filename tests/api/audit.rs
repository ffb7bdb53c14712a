//! The audit log over HTTP: every management action leaves an event with actor,
//! target, time and source address, no secret; `GET /v1/audit-events` filters and
//! pages within the caller's organization.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_api_error, TestApp, TestClient, TestKey};

async fn events(app: &TestApp, key: &str, query: &str) -> serde_json::Value {
    let response = app.get(&format!("/v1/audit-events{query}"), key).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn types(page: &serde_json::Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_rt::test]
async fn every_management_action_is_recorded_without_secrets() {
    let app = TestApp::spawn().await;
    let admin = app.admin_key.clone();
    let mut secrets = vec![admin.clone()];

    // API keys: create, update, rotate, revoke.
    let TestKey { id: key_id, key } = app.api_key("read write").await;
    secrets.push(key);
    let patch = app
        .patch_json(
            &format!("/v1/api-keys/{key_id}"),
            &admin,
            &json!({"scopes": ["read"]}),
        )
        .await;
    assert_eq!(patch.status(), 200);
    let rotated: serde_json::Value = app
        .send(
            Method::POST,
            &format!("/v1/api-keys/{key_id}/rotate"),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    secrets.push(rotated["key"].as_str().unwrap().to_owned());
    let successor = rotated["id"].as_str().unwrap();
    let revoke = app
        .send(Method::DELETE, &format!("/v1/api-keys/{successor}"), &admin)
        .await;
    assert_eq!(revoke.status(), 200);

    // Clients: register, update, rotate the secret, disable; and RFC 7591.
    let created: serde_json::Value = app
        .post_json(
            "/v1/clients",
            &admin,
            &json!({"name": "svc", "scopes": ["read", "write"],
                      "grant_types": ["client_credentials", "refresh_token"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    secrets.push(created["client_secret"].as_str().unwrap().to_owned());
    let path = |suffix: &str| format!("/v1/clients/{client_id}{suffix}");
    let update = app
        .patch_json(&path(""), &admin, &json!({"name": "svc 2"}))
        .await;
    assert_eq!(update.status(), 200);
    let rotated: serde_json::Value = app
        .send(Method::POST, &path("/rotate-secret"), &admin)
        .await
        .json()
        .await
        .unwrap();
    let client = TestClient {
        id: client_id.clone(),
        secret: rotated["client_secret"].as_str().unwrap().to_owned(),
    };
    secrets.push(client.secret.clone());
    // Refresh-token reuse.
    let (_, refresh_token) = app.first_tokens(&client).await;
    secrets.push(refresh_token.clone());
    assert_eq!(
        app.refresh(&client, &refresh_token, &[]).await.status(),
        200
    );
    assert_eq!(
        app.refresh(&client, &refresh_token, &[]).await.status(),
        400
    );
    let disable = app.send(Method::POST, &path("/disable"), &admin).await;
    assert_eq!(disable.status(), 200);
    let registered: serde_json::Value = app
        .register_as(
            Some(&admin),
            &json!({"client_name": "partner", "scope": "read"}),
        )
        .await
        .json()
        .await
        .unwrap();
    secrets.push(registered["client_secret"].as_str().unwrap().to_owned());
    secrets.push(
        registered["registration_access_token"]
            .as_str()
            .unwrap()
            .to_owned(),
    );

    let page = events(&app, &admin, "?limit=200").await;
    let recorded = types(&page);
    for expected in [
        "api_key.bootstrap_issued",
        "api_key.created",
        "api_key.updated",
        "api_key.rotated",
        "api_key.revoked",
        "client.registered",
        "client.updated",
        "client.secret_rotated",
        "refresh_token.reuse_detected",
        "client.disabled",
    ] {
        assert!(
            recorded.iter().any(|t| t == expected),
            "{expected} in {recorded:?}"
        );
    }
    assert_eq!(
        recorded
            .iter()
            .filter(|t| *t == "client.registered")
            .count(),
        2
    );
    let text = page.to_string();
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a secret in the audit log");
    }
    let created_event = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "api_key.created" && e["target_id"] == key_id.as_str())
        .unwrap();
    assert_eq!(created_event["target_type"], "api_key");
    assert!(created_event["actor"]
        .as_str()
        .unwrap()
        .starts_with("key:key_"));
    assert_eq!(created_event["source_ip"], "127.0.0.1");
    assert!(created_event["created_at"].is_string());
    // An API-key update shows all three settings, changed or not.
    let updated_event = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "api_key.updated" && e["target_id"] == key_id.as_str())
        .unwrap();
    let details = &updated_event["details"];
    assert_eq!(
        details["scopes"],
        json!({"from": "read write", "to": "read"})
    );
    assert_eq!(details["name"]["from"], details["name"]["to"]);
    assert_eq!(
        details["rate_limit_per_minute"],
        json!({"from": null, "to": null})
    );
    let reuse = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event_type"] == "refresh_token.reuse_detected")
        .unwrap();
    assert_eq!(reuse["actor"], format!("client:{client_id}"));
    assert_eq!(
        reuse["source_ip"], "127.0.0.1",
        "where the spent token came from"
    );
}

#[actix_rt::test]
async fn a_client_change_records_what_changed() {
    let app = TestApp::spawn().await;
    let admin = app.admin_key.clone();
    let created: serde_json::Value = app
        .post_json(
            "/v1/clients",
            &admin,
            &json!({"name": "svc", "scopes": ["read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let management = format!("{}/v1", crate::helpers::ISSUER);
    let update = app
        .patch_json(
            &format!("/v1/clients/{client_id}"),
            &admin,
            &json!({
                "audience": management,
                "access_token_ttl": "10m",
                "rate_limit_per_minute": 60,
                "grant_types": ["client_credentials", "refresh_token"],
            }),
        )
        .await;
    assert_eq!(update.status(), 200);
    let page = events(&app, &admin, "?type=client.updated").await;
    let details = &page["data"][0]["details"];
    assert_eq!(details["audience"], json!({"from": null, "to": management}));
    assert_eq!(
        details["access_token_ttl_secs"],
        json!({"from": null, "to": 600})
    );
    assert_eq!(
        details["rate_limit_per_minute"],
        json!({"from": null, "to": 60})
    );
    assert_eq!(
        details["grant_types"],
        json!({"from": "client_credentials", "to": "client_credentials refresh_token"})
    );
    assert!(details.get("name").is_none(), "unchanged: {details}");

    // RFC 7592: adding refresh_token through the registration access token.
    let registered: serde_json::Value = app
        .register_as(
            Some(&admin),
            &json!({"client_name": "partner", "scope": "read"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = registered["client_id"].as_str().unwrap();
    let token = registered["registration_access_token"].as_str().unwrap();
    let put = app
        .http
        .put(app.url(&format!("/oauth/register/{id}")))
        .header("Authorization", format!("Bearer {token}"))
        .json(&json!({
            "client_id": id,
            "client_name": "partner",
            "scope": "read",
            "grant_types": ["client_credentials", "refresh_token"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let page = events(&app, &admin, "?type=client.updated").await;
    let event = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["target_id"] == id)
        .unwrap();
    assert_eq!(event["details"]["via"], "rfc7592");
    assert_eq!(
        event["details"]["grant_types"]["to"],
        "client_credentials refresh_token"
    );
    assert!(!page.to_string().contains(token));
}

#[actix_rt::test]
async fn events_are_filtered_paged_and_kept_to_their_organization() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.api_key("read").await;
    }
    let created = events(&app, &app.admin_key, "?type=api_key.created").await;
    assert_eq!(types(&created), vec!["api_key.created"; 3]);
    let first = events(&app, &app.admin_key, "?limit=2").await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = events(&app, &app.admin_key, &format!("?limit=200&after={cursor}")).await;
    // The first start's signing key, the bootstrap key and the three keys.
    assert_eq!(rest["data"].as_array().unwrap().len(), 3, "5 events in all");
    let generated = events(&app, &app.admin_key, "?type=signing_key.generated").await;
    assert_eq!(generated["data"][0]["actor"], "serve");
    assert_eq!(generated["data"][0]["target_type"], "signing_key");
    let future = events(&app, &app.admin_key, "?from=2999-01-01T00:00:00Z").await;
    assert_eq!(future["data"], json!([]));

    // The other organization sees its own creation and its admin key's (both by the
    // operator), and nothing of the default organization's.
    let other = app.other_org_admin();
    let theirs = events(&app, &other.key, "").await;
    assert_eq!(
        types(&theirs),
        vec!["organization.created", "api_key.created"]
    );
    assert_eq!(theirs["data"][0]["target_type"], "organization");
    assert_eq!(theirs["data"][0]["details"]["slug"], "other");
    assert_eq!(theirs["data"][1]["target_id"], other.id.as_str());
    let reader = app.api_key("read").await.key;
    let response = app.get("/v1/audit-events", &reader).await;
    assert_api_error(response, 403, "insufficient_scope").await;
    for bad in [
        "?type=nope",
        "?limit=0",
        "?from=yesterday",
        "?after=x",
        "?colour=red",
    ] {
        let response = app
            .get(&format!("/v1/audit-events{bad}"), &app.admin_key)
            .await;
        assert_api_error(response, 400, "invalid_request").await;
    }
}
