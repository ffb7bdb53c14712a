//! `identity::presented::presented_credential` and `bearer_credential`: the
//! `Authorization` and `X-API-Key` headers (possibly repeated, any bytes actix-web
//! admits) as the identity resolver classifies them before any database read. Input:
//! `keygate_fuzz::request`'s text framing (the body is ignored).
//!
//! Never panics; an API key is only ever a well-formed one, an access token has three
//! segments and no key prefix, nothing longer than 8 KiB passes, and a repeated
//! header is refused.
#![no_main]

use actix_web::http::header::AUTHORIZATION;
use actix_web::ResponseError;
use keygate::api_keys::format;
use keygate::error::ApiError;
use keygate::identity::presented::{bearer_credential, presented_credential, Presented, X_API_KEY};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let headers = keygate_fuzz::request(data).headers;
    let authorizations = headers.get_all(AUTHORIZATION).count();
    let api_keys = headers.get_all(X_API_KEY).count();

    let bearer = bearer_credential(&headers);
    match &bearer {
        Ok(Some(token)) => {
            assert_eq!(authorizations, 1);
            assert!(!token.is_empty());
        }
        Ok(None) => assert_eq!(authorizations, 0),
        Err(_) => assert!(authorizations > 0),
    }

    match presented_credential(&headers) {
        Ok(presented) => {
            assert!(
                authorizations <= 1 && api_keys <= 1,
                "a repeated header passed"
            );
            let text = match &presented {
                Presented::ApiKey(key) => {
                    assert!(format::parse(key).is_ok());
                    key.as_ref()
                }
                Presented::AccessToken(token) => {
                    assert_eq!(token.split('.').count(), 3);
                    assert!(!format::has_key_prefix(token));
                    token.as_ref()
                }
            };
            assert!(text.len() <= 8 * 1024);
            if authorizations == 1 {
                assert_eq!(bearer.ok().flatten(), Some(text));
            }
            assert!(!format!("{presented:?}").contains(text) || text.len() < 8);
            let _ = presented.into_owned();
        }
        Err(error) => {
            let _ = ApiError::from(error).error_response();
        }
    }
});
