//! RFC 7591 client metadata (`POST`/`PUT /oauth/register`): the JSON body through
//! `oauth::registration::parse_metadata`, then, when it passes, through
//! `ClientRegistration::validate` with a fixed organization, scopes `read write admin
//! webhook` and a one-hour lifetime bound. Input: the JSON body.
//!
//! Never panics; an accepted registration has no empty scope, an auth method keygate
//! serves, and only configured scopes.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use actix_web::ResponseError;
use chrono::DateTime;
use keygate::oauth::registration::parse_metadata;
use keygate::orgs::OrgId;
use keygate::scope::ScopeSet;
use libfuzzer_sys::fuzz_target;

fn known_scopes() -> &'static ScopeSet {
    static KNOWN: OnceLock<ScopeSet> = OnceLock::new();
    KNOWN.get_or_init(|| ScopeSet::parse("read write admin webhook").expect("scopes"))
}

fuzz_target!(|data: &[u8]| {
    let (registration, auth_method) = match parse_metadata(data) {
        Ok(parsed) => parsed,
        Err(error) => {
            let _ = error.error_response();
            return;
        }
    };
    assert!(matches!(
        auth_method,
        "client_secret_basic" | "client_secret_post"
    ));
    assert!(!registration.scope.trim().is_empty());
    let valid = match registration.validate(
        OrgId("org_fuzz".to_owned()),
        known_scopes(),
        Duration::from_secs(3600),
    ) {
        Ok(valid) => valid,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    assert!(valid.allowed_scopes().is_subset_of(known_scopes()));
    assert!(!valid.allowed_scopes().is_empty());
    let now = DateTime::from_timestamp(1_750_000_000, 0)
        .expect("time")
        .naive_utc();
    let changes = valid.into_changes(now);
    assert!(!changes.name.is_empty());
    assert!(!changes.grant_types.is_empty());
});
