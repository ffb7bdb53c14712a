//! The CLI's commands as an operator runs them: clients, API keys, signing keys,
//! organizations and migrations, each printing JSON on success and a clear message
//! on stderr otherwise; a secret is shown once and never listed.

use crate::helpers::db;
use crate::helpers::process::{run, Installation};

#[test]
fn client_create_prints_the_secret_once_and_list_never_does() {
    let kg = Installation::new();
    let created = kg.run(&[
        "client",
        "create",
        "--name",
        "billing",
        "--scope",
        "read write",
        "--grant-type",
        "client_credentials",
        "--audience",
        "https://api.example.com",
        "--audience",
        "https://billing.example.com",
        "--token-ttl",
        "10m",
        "--token-endpoint-auth-method",
        "client_secret_post",
    ]);
    assert!(created.ok, "{}", created.stderr);
    assert_eq!(
        created.json["token_endpoint_auth_method"],
        "client_secret_post"
    );
    // --audience repeats; the first is the default.
    assert_eq!(
        created.json["audiences"],
        serde_json::json!(["https://api.example.com", "https://billing.example.com"])
    );
    assert_eq!(created.json["audience"], "https://api.example.com");
    let id = created.json["client_id"].as_str().unwrap().to_owned();
    let secret = created.json["client_secret"].as_str().unwrap().to_owned();
    assert!(id.starts_with("kgc_"));
    assert!(
        secret.starts_with("kgs_") && secret.len() >= 4 + 43,
        "{secret}"
    );
    assert_eq!(created.json["scopes"], serde_json::json!(["read", "write"]));
    assert_eq!(created.json["access_token_ttl_secs"], 600);

    let listed = kg.run(&["client", "list"]);
    assert!(listed.ok);
    assert_eq!(listed.json[0]["client_id"], id.as_str());
    let listing = listed.json.to_string();
    assert!(
        !listing.contains(&secret) && !listing.contains("argon2"),
        "{listing}"
    );

    let disabled = kg.run(&["client", "disable", &id]);
    assert!(
        disabled.ok && !disabled.json["disabled_at"].is_null(),
        "{}",
        disabled.stderr
    );
}

#[test]
fn client_create_rejects_bad_input_with_a_clear_message() {
    let kg = Installation::new();
    for (args, expected) in [
        (
            vec!["--name", "x", "--scope", "read superpowers"],
            "superpowers",
        ),
        (
            vec!["--name", "x", "--scope", "read", "--grant-type", "password"],
            "password",
        ),
        (
            vec!["--name", "x", "--scope", "read", "--org", "nope"],
            "organization 'nope' does not exist",
        ),
        (
            vec!["--name", "x", "--scope", "read", "--token-ttl", "2d"],
            "lifetime",
        ),
        (
            vec!["--name", "x", "--scope", "read", "--token-ttl", "soon"],
            "duration",
        ),
        (vec!["--name", "", "--scope", "read"], "name"),
        (
            vec![
                "--name",
                "x",
                "--scope",
                "read",
                "--token-endpoint-auth-method",
                "none",
            ],
            "token_endpoint_auth_method",
        ),
        (
            vec!["--name", "x", "--scope", "read", "--audience", "billing"],
            "audience",
        ),
    ] {
        let out = run(kg.keygate().args(["client", "create"]).args(&args));
        assert!(!out.ok, "{args:?} succeeded");
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn migrate_is_idempotent_and_an_unreachable_database_is_named_without_password() {
    let kg = Installation::new();
    let first = kg.run(&["migrate"]);
    assert!(first.ok, "{}", first.stderr);
    assert!(first.json["applied"].as_u64().unwrap() >= 1);
    let again = kg.run(&["migrate"]);
    assert_eq!(again.json["applied"], 0);

    let out = run(kg
        .keygate()
        .env(
            "KEYGATE_DATABASE_URL",
            "postgres://keygate:hunter2@127.0.0.1:1/keygate",
        )
        .arg("migrate"));
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("postgres://keygate:***@127.0.0.1:1/keygate"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);

    let out = run(kg
        .keygate()
        .env("KEYGATE_DATABASE_URL", "mysql://x")
        .arg("migrate"));
    assert!(!out.ok);
    assert!(out.stderr.contains("database_url"), "{}", out.stderr);
}

#[test]
fn signing_key_commands_walk_the_lifecycle() {
    let kg = Installation::new();
    let first = kg.run(&["signing-key", "generate"]);
    assert!(first.ok, "{}", first.stderr);
    assert_eq!(first.json["alg"], "ES256");
    assert_eq!(first.json["state"], "active");
    let second = kg.run(&["signing-key", "generate", "--alg", "EdDSA"]);
    assert_eq!(second.json["state"], "pending", "{}", second.stderr);
    let kid1 = first.json["kid"].as_str().unwrap();
    let kid2 = second.json["kid"].as_str().unwrap();

    let refused = kg.run(&["signing-key", "retire", kid1]);
    assert!(
        !refused.ok && refused.stderr.contains("activate another key first"),
        "{}",
        refused.stderr
    );
    let activated = kg.run(&["signing-key", "activate", kid2]);
    assert_eq!(activated.json["state"], "active", "{}", activated.stderr);
    let listed = kg.run(&["signing-key", "list"]);
    let states: Vec<_> = listed
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["state"].clone())
        .collect();
    assert_eq!(states, vec!["retired", "active"]);
    let too_soon = kg.run(&["signing-key", "remove", kid1]);
    assert!(
        !too_soon.ok && too_soon.stderr.contains("may be valid until"),
        "{}",
        too_soon.stderr
    );
    let bad_alg = kg.run(&["signing-key", "generate", "--alg", "HS256"]);
    assert!(!bad_alg.ok);
    let unknown = kg.run(&["signing-key", "retire", "nope"]);
    assert!(!unknown.ok && unknown.stderr.contains("no signing key with kid 'nope'"));
    assert!(!listed.json.to_string().contains("PRIVATE KEY"));

    // A pending key that will never sign is retired at once.
    let third = kg.run(&["signing-key", "generate"]);
    let kid3 = third.json["kid"].as_str().unwrap();
    let retired = kg.run(&["signing-key", "retire", kid3]);
    assert_eq!(retired.json["state"], "retired", "{}", retired.stderr);
    // Once every token it could have signed has expired it may be removed: move its
    // retirement back in time on disk rather than wait for access_token_ttl_max.
    let meta_path = kg.dir.path().join("keys").join(format!("{kid3}.json"));
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    meta["retired_at"] =
        serde_json::json!((chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339());
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    let removed = kg.run(&["signing-key", "remove", kid3]);
    assert!(removed.ok, "{}", removed.stderr);

    // Each step is in the default organization's audit log.
    let recorded = db::audit_trail(&kg.db.store(), "default");
    for expected in [
        "signing_key.generated cli",
        "signing_key.activated cli",
        "signing_key.retired cli",
        "signing_key.removed cli",
    ] {
        assert!(
            recorded.iter().any(|r| r == expected),
            "{expected}: {recorded:?}"
        );
    }
}

#[test]
fn api_key_commands_create_list_and_revoke() {
    let kg = Installation::new();
    let created = kg.run(&[
        "api-key",
        "create",
        "--name",
        "ci",
        "--scope",
        "read",
        "--scope",
        "write",
        "--expires-in",
        "90d",
        "--env",
        "test",
    ]);
    assert!(created.ok, "{}", created.stderr);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let key = created.json["key"].as_str().unwrap().to_owned();
    assert!(
        id.starts_with("key_") && key.starts_with("kg_test_"),
        "{}",
        created.json
    );
    assert_eq!(created.json["scopes"], serde_json::json!(["read", "write"]));
    assert!(created.json["expires_at"].is_string());

    let listed = kg.run(&["api-key", "list"]);
    assert!(listed.ok, "{}", listed.stderr);
    let listing = listed.json.to_string();
    assert!(
        listing.contains(&id) && !listing.contains(&key),
        "{listing}"
    );
    assert!(listing.contains(&format!("kg_test_…{}", &key[key.len() - 4..])));

    let revoked = kg.run(&["api-key", "revoke", &id]);
    assert!(revoked.ok, "{}", revoked.stderr);
    assert_eq!(revoked.json["state"], "revoked");
    // The key shown once comes first, next to its id, not among a dozen fields.
    let order: Vec<&String> = created.json.as_object().unwrap().keys().take(2).collect();
    assert_eq!(order, ["id", "key"], "{}", created.json);
    let shown = kg.run(&["api-key", "show", &id]);
    assert!(shown.ok, "{}", shown.stderr);
    assert_eq!(shown.json["state"], "revoked");
    assert!(!shown.json.to_string().contains(&key));
    let missing = kg.run(&["api-key", "show", "key_nope"]);
    assert!(!missing.ok && missing.stderr.contains("no API key key_nope"));

    let client = kg.run(&["client", "create", "--name", "svc", "--scope", "read"]);
    assert!(client.ok, "{}", client.stderr);
    let order: Vec<&String> = client.json.as_object().unwrap().keys().take(2).collect();
    assert_eq!(order, ["client_id", "client_secret"], "{}", client.json);
    let client_id = client.json["client_id"].as_str().unwrap();
    let shown = kg.run(&["client", "show", client_id]);
    assert!(shown.ok, "{}", shown.stderr);
    assert_eq!(shown.json["client_id"], client_id);
    assert!(shown.json.get("client_secret").is_none());
    // A public client of the authorization code grant: no secret to show.
    let public = kg.run(&[
        "client",
        "create",
        "--name",
        "cli app",
        "--scope",
        "read",
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--redirect-uri",
        "http://127.0.0.1/callback",
        "--token-endpoint-auth-method",
        "none",
    ]);
    assert!(public.ok, "{}", public.stderr);
    assert!(
        public.json.get("client_secret").is_none(),
        "{}",
        public.json
    );
    assert_eq!(
        public.json["redirect_uris"],
        serde_json::json!(["http://127.0.0.1/callback"])
    );
    let no_uri = kg.run(&[
        "client",
        "create",
        "--name",
        "x",
        "--scope",
        "read",
        "--grant-type",
        "authorization_code",
    ]);
    assert!(
        !no_uri.ok && no_uri.stderr.contains("redirect URI"),
        "{}",
        no_uri.stderr
    );

    for (args, message) in [
        (
            vec!["api-key", "create", "--name", "x", "--scope", "billing"],
            "billing",
        ),
        (
            vec![
                "api-key", "create", "--name", "x", "--scope", "read", "--env", "prod",
            ],
            "live or test",
        ),
        (
            vec![
                "api-key", "create", "--name", "x", "--scope", "read", "--org", "nope",
            ],
            "nope",
        ),
        (vec!["api-key", "revoke", "key_missing"], "key_missing"),
    ] {
        let failed = run(kg.keygate().args(&args));
        assert!(!failed.ok, "{args:?}");
        assert!(
            failed.stderr.contains(message),
            "{args:?}: {}",
            failed.stderr
        );
    }
}

#[test]
fn api_key_update_and_rotate_follow_the_api_rules() {
    let kg = Installation::new();
    let created = kg.run(&[
        "api-key",
        "create",
        "--name",
        "ci",
        "--scope",
        "read write",
        "--rate-limit",
        "100",
    ]);
    assert!(created.ok, "{}", created.stderr);
    let id = created.json["id"].as_str().unwrap().to_owned();

    let updated = kg.run(&[
        "api-key",
        "update",
        &id,
        "--name",
        "deploy",
        "--scope",
        "read",
        "--rate-limit",
        "50",
    ]);
    assert!(updated.ok, "{}", updated.stderr);
    assert_eq!(updated.json["name"], "deploy");
    assert_eq!(updated.json["scopes"], serde_json::json!(["read"]));
    assert_eq!(updated.json["rate_limit_per_minute"], 50);
    assert!(updated.json.get("key").is_none(), "{}", updated.json);
    let unlimited = kg.run(&["api-key", "update", &id, "--no-rate-limit"]);
    assert!(unlimited.ok, "{}", unlimited.stderr);
    assert_eq!(
        unlimited.json["rate_limit_per_minute"],
        serde_json::Value::Null
    );
    assert_eq!(
        unlimited.json["name"], "deploy",
        "an absent flag changes nothing"
    );

    let rotated = kg.run(&["api-key", "rotate", &id, "--overlap", "1h"]);
    assert!(rotated.ok, "{}", rotated.stderr);
    let successor = rotated.json["id"].as_str().unwrap().to_owned();
    let order: Vec<&String> = rotated.json.as_object().unwrap().keys().take(2).collect();
    assert_eq!(order, ["id", "key"], "{}", rotated.json);
    assert!(rotated.json["key"]
        .as_str()
        .unwrap()
        .starts_with("kg_live_"));
    assert_eq!(rotated.json["name"], "deploy");
    let old = kg.run(&["api-key", "show", &id]);
    assert_eq!(old.json["replaced_by"], successor.as_str());
    assert_eq!(old.json["state"], "active", "the overlap keeps it working");
    assert!(old.json["expires_at"].is_string());

    for (args, message) in [
        // Narrowing only, as PATCH /v1/api-keys/{id}: a new scope is a new key.
        (
            vec!["api-key", "update", &successor, "--scope", "admin"],
            "narrowed",
        ),
        (vec!["api-key", "update", &successor, "--name", " "], "name"),
        (
            vec!["api-key", "update", &successor, "--rate-limit", "0"],
            "rate_limit",
        ),
        (
            vec!["api-key", "update", "key_missing", "--name", "x"],
            "no API key key_missing",
        ),
        (vec!["api-key", "rotate", &id], "already rotated"),
        (
            vec!["api-key", "rotate", &successor, "--overlap", "31d"],
            "30 days",
        ),
        (
            vec!["api-key", "rotate", &successor, "--overlap", "soon"],
            "soon",
        ),
        (
            vec!["api-key", "rotate", "key_missing"],
            "no API key key_missing",
        ),
        (
            vec![
                "api-key",
                "update",
                &id,
                "--rate-limit",
                "5",
                "--no-rate-limit",
            ],
            "cannot be used with",
        ),
    ] {
        let failed = run(kg.keygate().args(&args));
        assert!(!failed.ok, "{args:?}");
        assert!(
            failed.stderr.contains(message),
            "{args:?}: {}",
            failed.stderr
        );
    }
}

#[test]
fn client_update_and_rotate_secret_follow_the_api_rules() {
    let kg = Installation::new();
    let created = kg.run(&[
        "client",
        "create",
        "--name",
        "billing",
        "--scope",
        "read write",
        "--rate-limit",
        "100",
        "--token-endpoint-auth-method",
        "client_secret_post",
    ]);
    assert!(created.ok, "{}", created.stderr);
    let id = created.json["client_id"].as_str().unwrap().to_owned();
    let secret = created.json["client_secret"].as_str().unwrap().to_owned();

    let updated = kg.run(&[
        "client",
        "update",
        &id,
        "--name",
        "invoicing",
        "--scope",
        "read",
        "--grant-type",
        "client_credentials",
        "--grant-type",
        "refresh_token",
        "--audience",
        "https://a.example",
        "--audience",
        "https://b.example",
        "--token-ttl",
        "5m",
        "--refresh-reuse-grace",
        "10s",
        "--rate-limit",
        "50",
    ]);
    assert!(updated.ok, "{}", updated.stderr);
    assert_eq!(updated.json["name"], "invoicing");
    assert_eq!(updated.json["scopes"], serde_json::json!(["read"]));
    assert_eq!(
        updated.json["default_scopes"],
        serde_json::json!(["read"]),
        "the default narrows with the scopes, as in PATCH"
    );
    assert_eq!(
        updated.json["grant_types"],
        serde_json::json!(["client_credentials", "refresh_token"])
    );
    assert_eq!(
        updated.json["audiences"],
        serde_json::json!(["https://a.example", "https://b.example"])
    );
    assert_eq!(updated.json["audience"], "https://a.example");
    assert_eq!(updated.json["access_token_ttl_secs"], 300);
    assert_eq!(updated.json["refresh_reuse_grace_secs"], 10);
    assert_eq!(updated.json["rate_limit_per_minute"], 50);
    assert_eq!(
        updated.json["token_endpoint_auth_method"],
        "client_secret_post"
    );
    assert!(
        updated.json.get("client_secret").is_none(),
        "{}",
        updated.json
    );
    let cleared = kg.run(&[
        "client",
        "update",
        &id,
        "--no-rate-limit",
        "--any-auth-method",
    ]);
    assert!(cleared.ok, "{}", cleared.stderr);
    assert_eq!(
        cleared.json["rate_limit_per_minute"],
        serde_json::Value::Null
    );
    assert_eq!(
        cleared.json["token_endpoint_auth_method"],
        serde_json::Value::Null
    );
    assert_eq!(
        cleared.json["name"], "invoicing",
        "an absent flag changes nothing"
    );

    let rotated = kg.run(&["client", "rotate-secret", &id, "--overlap", "1h"]);
    assert!(rotated.ok, "{}", rotated.stderr);
    let order: Vec<&String> = rotated.json.as_object().unwrap().keys().take(2).collect();
    assert_eq!(order, ["client_id", "client_secret"], "{}", rotated.json);
    let new_secret = rotated.json["client_secret"].as_str().unwrap();
    assert!(new_secret.starts_with("kgs_") && new_secret != secret);
    assert!(rotated.json["previous_secret_expires_at"].is_string());
    let shown = kg.run(&["client", "show", &id]);
    assert!(shown.json.get("client_secret").is_none(), "{}", shown.json);
    let listing = kg.run(&["client", "list"]).json.to_string();
    assert!(!listing.contains(new_secret) && !listing.contains(&secret));

    let missing = "kgc_00000000000000000000000000000000";
    let unknown = format!("no client {missing}");
    for (args, message) in [
        (
            vec!["client", "update", missing, "--name", "x"],
            unknown.as_str(),
        ),
        (vec!["client", "rotate-secret", missing], unknown.as_str()),
        (vec!["client", "disable", missing], unknown.as_str()),
        (
            vec!["client", "update", &id, "--scope", "read superpowers"],
            "superpowers",
        ),
        (
            vec!["client", "update", &id, "--scope", "r\u{e9}ad"],
            "scope: scope contains a character",
        ),
        (
            vec!["client", "update", &id, "--default-scope", "write"],
            "default scope must be a subset",
        ),
        (
            vec!["client", "update", &id, "--grant-type", "refresh_token"],
            "needs client_credentials or authorization_code too",
        ),
        (vec!["client", "update", &id, "--name", " "], "name"),
        (
            vec!["client", "update", &id, "--token-ttl", "2d"],
            "lifetime",
        ),
        (vec!["client", "update", &id, "--token-ttl", "soon"], "soon"),
        (
            vec![
                "client",
                "update",
                &id,
                "--token-endpoint-auth-method",
                "none",
            ],
            "token_endpoint_auth_method",
        ),
        (
            vec!["client", "rotate-secret", &id, "--overlap", "31d"],
            "30 days",
        ),
        (
            vec!["client", "rotate-secret", &id, "--overlap", "soon"],
            "soon",
        ),
        (
            vec![
                "client",
                "update",
                &id,
                "--rate-limit",
                "5",
                "--no-rate-limit",
            ],
            "cannot be used with",
        ),
        (
            vec![
                "client",
                "update",
                &id,
                "--token-endpoint-auth-method",
                "client_secret_basic",
                "--any-auth-method",
            ],
            "cannot be used with",
        ),
    ] {
        let failed = run(kg.keygate().args(&args));
        assert!(!failed.ok, "{args:?}");
        assert!(
            failed.stderr.contains(message),
            "{args:?}: {}",
            failed.stderr
        );
    }

    let disabled = kg.run(&["client", "disable", &id]);
    assert!(disabled.ok, "{}", disabled.stderr);
    for (args, message) in [
        (
            vec!["client", "update", &id, "--name", "x"],
            "the client is disabled",
        ),
        (
            vec!["client", "rotate-secret", &id],
            "the client was disabled",
        ),
    ] {
        let failed = run(kg.keygate().args(&args));
        assert!(!failed.ok, "{args:?}");
        assert!(
            failed.stderr.contains(message),
            "{args:?}: {}",
            failed.stderr
        );
    }
}

#[test]
fn organizations_get_tiers_from_the_configuration() {
    let kg = Installation::new();
    let created = kg.run(&[
        "org", "create", "--slug", "acme", "--name", "Acme", "--tier", "pro",
    ]);
    assert!(created.ok, "{}", created.stderr);
    assert_eq!(created.json["tier"], "pro");
    let moved = kg.run(&["org", "set-tier", "acme", "enterprise"]);
    assert_eq!(moved.json["tier"], "enterprise", "{}", moved.stderr);
    let unknown = kg.run(&["org", "set-tier", "acme", "platinum"]);
    assert!(!unknown.ok && unknown.stderr.contains("platinum") && unknown.stderr.contains("free"));
    let missing = kg.run(&["org", "set-tier", "nope", "pro"]);
    assert!(!missing.ok && missing.stderr.contains("nope"));
    let again = kg.run(&["org", "create", "--slug", "acme", "--name", "Acme 2"]);
    assert!(
        !again.ok && again.stderr.contains("'acme' already exists"),
        "{}",
        again.stderr
    );
    let bad = kg.run(&["org", "create", "--slug", "Acme Inc", "--name", "Acme"]);
    assert!(
        !bad.ok && bad.stderr.contains("a-z, 0-9 and '-'"),
        "{}",
        bad.stderr
    );
}

#[test]
fn audit_and_usage_show_what_the_api_shows() {
    let kg = Installation::new();
    let org = kg.run(&["org", "create", "--slug", "acme", "--name", "Acme"]);
    assert!(org.ok, "{}", org.stderr);
    let key = kg.run(&[
        "api-key", "create", "--name", "ci", "--scope", "read", "--org", "acme",
    ]);
    let id = key.json["id"].as_str().unwrap().to_owned();
    assert!(kg.run(&["api-key", "revoke", &id]).ok);
    assert!(kg.run(&["org", "set-tier", "acme", "pro"]).ok);

    let events = kg.run(&["audit", "--org", "acme"]);
    assert!(events.ok, "{}", events.stderr);
    let seen: Vec<(&str, &str)> = events
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event_type"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("organization.created", "cli"),
            ("api_key.created", "cli"),
            ("api_key.revoked", "cli"),
            ("organization.tier_changed", "cli"),
        ]
    );
    assert_eq!(
        events.json[3]["details"],
        serde_json::json!({"tier": {"from": "free", "to": "pro"}})
    );
    assert!(!events
        .json
        .to_string()
        .contains(key.json["key"].as_str().unwrap()));
    let revoked = kg.run(&[
        "audit",
        "--org",
        "acme",
        "--type",
        "api_key.revoked",
        "--limit",
        "5",
    ]);
    assert_eq!(
        revoked.json.as_array().unwrap().len(),
        1,
        "{}",
        revoked.json
    );
    assert_eq!(revoked.json[0]["target_id"], id.as_str());
    let default_org = kg.run(&["audit"]);
    assert!(
        !default_org.json.to_string().contains(&id),
        "another organization's"
    );

    let usage = kg.run(&["usage", "--org", "acme", "--granularity", "day"]);
    assert!(usage.ok, "{}", usage.stderr);
    assert_eq!(usage.json["org_id"], org.json["id"]);
    assert_eq!(usage.json["granularity"], "day");
    assert_eq!(usage.json["top"], serde_json::json!([]));
    let one = kg.run(&["usage", "--org", "acme", "--key", &id]);
    assert!(one.ok, "{}", one.stderr);
    assert_eq!(one.json["subject_id"], id.as_str());

    for (args, message) in [
        (vec!["audit", "--type", "nope"], "api_key.created"),
        (vec!["audit", "--limit", "0"], "limit"),
        (vec!["audit", "--org", "nope"], "'nope' does not exist"),
        (vec!["audit", "--from", "yesterday"], "from"),
        (vec!["usage", "--key", &id], "no such key or client"),
        (
            vec!["usage", "--org", "acme", "--key", "key_missing"],
            "no such key",
        ),
        (
            vec!["usage", "--key", &id, "--client", "kgc_x"],
            "cannot be used with",
        ),
        (
            vec!["usage", "--granularity", "week"],
            "minute, hour or day",
        ),
        (
            vec![
                "usage",
                "--from",
                "2026-01-02T00:00:00Z",
                "--to",
                "2026-01-01T00:00:00Z",
            ],
            "before --to",
        ),
        (
            vec![
                "usage",
                "--from",
                "2025-01-01T00:00:00Z",
                "--to",
                "2026-01-01T00:00:00Z",
            ],
            "31 days",
        ),
    ] {
        let failed = run(kg.keygate().args(&args));
        assert!(!failed.ok, "{args:?}");
        assert!(
            failed.stderr.contains(message),
            "{args:?}: {}",
            failed.stderr
        );
    }
}

#[test]
fn user_create_prints_the_setup_link_once_and_list_never_does() {
    let kg = Installation::new();
    let created = kg.run(&[
        "user",
        "create",
        "--email",
        "Ada@Example.com",
        "--name",
        "Ada Lovelace",
        "--role",
        "admin",
    ]);
    assert!(created.ok, "{}", created.stderr);
    let fields: Vec<_> = created.json.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        fields,
        [
            "user_id",
            "setup_url",
            "email",
            "org",
            "role",
            "setup_expires_at"
        ]
    );
    let id = created.json["user_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("usr_"), "{id}");
    let url = created.json["setup_url"].as_str().unwrap().to_owned();
    let token = url
        .strip_prefix("http://127.0.0.1:8080/setup#")
        .unwrap_or_else(|| panic!("the token is in the fragment: {url}"));
    assert!(
        token.starts_with("kgut_") && token.len() >= 5 + 43,
        "{token}"
    );
    assert_eq!(created.json["email"], "Ada@Example.com");
    assert_eq!(created.json["org"], "default");
    assert_eq!(created.json["role"], "admin");

    let listed = kg.run(&["user", "list", "--org", "default"]);
    assert!(listed.ok, "{}", listed.stderr);
    assert_eq!(listed.json[0]["user_id"], id.as_str());
    assert_eq!(listed.json[0]["display_name"], "Ada Lovelace");
    assert_eq!(listed.json[0]["password_set"], false);
    let listing = listed.json.to_string();
    assert!(!listing.contains(token), "{listing}");

    // A new link (a forgotten password): another token, shown once, audited.
    let again = kg.run(&["user", "setup-link", &id]);
    assert!(again.ok, "{}", again.stderr);
    let fields: Vec<_> = again.json.as_object().unwrap().keys().cloned().collect();
    assert_eq!(fields, ["user_id", "setup_url", "setup_expires_at"]);
    let new_url = again.json["setup_url"].as_str().unwrap();
    assert!(
        new_url.contains("/setup#kgut_") && new_url != url,
        "{new_url}"
    );
    let missing = kg.run(&["user", "setup-link", "usr_nope"]);
    assert!(
        !missing.ok && missing.stderr.contains("no person usr_nope"),
        "{}",
        missing.stderr
    );

    let disabled = kg.run(&["user", "disable", &id]);
    assert!(
        disabled.ok && !disabled.json["disabled_at"].is_null(),
        "{}",
        disabled.stderr
    );
    let listed = kg.run(&["user", "list"]);
    assert!(!listed.json[0]["disabled_at"].is_null());
    let events = kg.run(&["audit", "--org", "default"]);
    let types = events.json.to_string();
    assert!(
        types.contains("user.created")
            && types.contains("user.setup_link_issued")
            && types.contains("user.disabled"),
        "{types}"
    );
    let after = kg.run(&["user", "setup-link", &id]);
    assert!(
        !after.ok && after.stderr.contains("disabled"),
        "no link for a disabled person"
    );
}

#[test]
fn user_create_rejects_bad_input_with_a_clear_message() {
    let kg = Installation::new();
    let first = kg.run(&[
        "user",
        "create",
        "--email",
        "ada@example.com",
        "--role",
        "viewer",
    ]);
    assert!(first.ok, "{}", first.stderr);
    for (args, expected) in [
        (vec!["--email", "not-an-email", "--role", "viewer"], "email"),
        (
            vec!["--email", "a b@example.com", "--role", "viewer"],
            "email",
        ),
        (
            vec!["--email", "ADA@Example.com", "--role", "viewer"],
            "already exists",
        ),
        (
            vec![
                "--email",
                "b@example.com",
                "--role",
                "viewer",
                "--org",
                "nope",
            ],
            "organization 'nope' does not exist",
        ),
        (
            vec!["--email", "b@example.com", "--role", "root"],
            "unknown role 'root'",
        ),
        (vec!["--email", "b@example.com"], "--role"),
    ] {
        let out = run(kg.keygate().args(["user", "create"]).args(&args));
        assert!(!out.ok, "{args:?} succeeded");
        assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
    }
    let unknown = kg.run(&["user", "disable", "usr_00000000000000000000000000000000"]);
    assert!(
        !unknown.ok && unknown.stderr.contains("no person"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn api_key_policy_is_shown_set_and_enforced_from_the_command_line() {
    let kg = Installation::new();
    let org = kg.run(&["org", "create", "--slug", "acme", "--name", "Acme"]);
    assert!(org.ok, "{}", org.stderr);
    let shown = kg.run(&["api-key", "policy", "--org", "acme"]);
    assert!(shown.ok, "{}", shown.stderr);
    assert_eq!(
        shown.json,
        serde_json::json!({"max_lifetime_secs": null, "expiry_required": false})
    );
    let set = kg.run(&[
        "api-key",
        "policy",
        "--org",
        "acme",
        "--max-lifetime",
        "30d",
    ]);
    assert!(set.ok, "{}", set.stderr);
    assert_eq!(set.json["max_lifetime_secs"], 30 * 86_400);
    // One flag changes only its part.
    let required = kg.run(&[
        "api-key",
        "policy",
        "--org",
        "acme",
        "--expiry-required",
        "true",
    ]);
    assert!(required.ok, "{}", required.stderr);
    assert_eq!(
        required.json,
        serde_json::json!({"max_lifetime_secs": 30 * 86_400, "expiry_required": true})
    );

    let forever = kg.run(&[
        "api-key", "create", "--org", "acme", "--name", "forever", "--scope", "read",
    ]);
    assert!(!forever.ok);
    assert!(
        forever
            .stderr
            .contains("every key must expire within 30 days"),
        "{}",
        forever.stderr
    );
    let long = kg.run(&[
        "api-key",
        "create",
        "--org",
        "acme",
        "--name",
        "long",
        "--scope",
        "read",
        "--expires-in",
        "31d",
    ]);
    assert!(!long.ok, "{}", long.stderr);
    let fits = kg.run(&[
        "api-key",
        "create",
        "--org",
        "acme",
        "--name",
        "ci",
        "--scope",
        "read",
        "--expires-in",
        "7d",
    ]);
    assert!(fits.ok, "{}", fits.stderr);

    for bad in [
        &[
            "api-key",
            "policy",
            "--org",
            "acme",
            "--max-lifetime",
            "10m",
        ][..],
        &[
            "api-key",
            "policy",
            "--org",
            "acme",
            "--max-lifetime",
            "soon",
        ],
        &[
            "api-key",
            "policy",
            "--org",
            "acme",
            "--expiry-required",
            "maybe",
        ],
        &["api-key", "policy", "--org", "nowhere"],
    ] {
        let refused = kg.run(bad);
        assert!(!refused.ok, "{bad:?}");
        assert!(!refused.stderr.is_empty(), "{bad:?}");
    }
    let lifted = kg.run(&[
        "api-key",
        "policy",
        "--org",
        "acme",
        "--max-lifetime",
        "none",
        "--expiry-required",
        "false",
    ]);
    assert!(lifted.ok, "{}", lifted.stderr);
    let forever = kg.run(&[
        "api-key", "create", "--org", "acme", "--name", "forever", "--scope", "read",
    ]);
    assert!(forever.ok, "{}", forever.stderr);
}
