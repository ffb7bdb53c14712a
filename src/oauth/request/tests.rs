//! `TokenRequest::parse` and `TokenActionRequest::parse` against RFC 6749's rules,
//! in both body formats.

use actix_web::http::header::{self, HeaderValue};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::*;
use crate::oauth::error::ErrorCode;

fn headers(auth: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
    );
    if let Some(a) = auth {
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
    }
    h
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

fn code(result: Result<TokenRequest, OAuthError>) -> ErrorCode {
    result.unwrap_err().code()
}

#[test]
fn basic_credentials_are_form_decoded() {
    let h = headers(Some(&basic("my%20client", "p%3Ass+w%2Bd")));
    let r = TokenRequest::parse(&h, "", b"grant_type=client_credentials").unwrap();
    assert_eq!(r.credentials.client_id, "my client");
    assert!(r.credentials.secret.ct_eq(b"p:ss w+d"));
    assert_eq!(r.credentials.method, AuthMethod::ClientSecretBasic);
}

#[test]
fn post_credentials_and_empty_values_count_as_absent() {
    let r = TokenRequest::parse(
        &headers(None),
        "",
        b"grant_type=client_credentials&client_id=c&client_secret=kgs_topsecret&scope=",
    )
    .unwrap();
    assert_eq!(r.credentials.method, AuthMethod::ClientSecretPost);
    assert_eq!(r.scope, None);
    assert!(!format!("{r:?}").contains("topsecret"));
    let in_query = TokenRequest::parse(
        &headers(None),
        "client_secret=s",
        b"grant_type=client_credentials",
    );
    assert_eq!(code(in_query), ErrorCode::InvalidRequest);
}

#[test]
fn a_client_id_alone_is_a_public_client_and_a_code_needs_its_binding() {
    let r = TokenRequest::parse(
        &headers(None),
        "",
        b"grant_type=authorization_code&client_id=kgc_app&code=kgac_x&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&code_verifier=v",
    )
    .unwrap();
    assert_eq!(r.credentials.method, AuthMethod::None);
    assert_eq!(r.grant_type, GrantType::AuthorizationCode);
    assert_eq!(r.param("redirect_uri"), Some("http://127.0.0.1:9/cb"));
    let full = "grant_type=authorization_code&client_id=c&code=kgac_x&redirect_uri=https%3A%2F%2Fa.example%2Fcb&code_verifier=v";
    for missing in ["code", "redirect_uri", "code_verifier"] {
        let body: Vec<&str> = full
            .split('&')
            .filter(|pair| !pair.starts_with(&format!("{missing}=")))
            .collect();
        let error = TokenRequest::parse(&headers(None), "", body.join("&").as_bytes()).unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidRequest, "{missing}");
        assert!(error.to_string().contains(missing), "{missing}: {error}");
    }
}

#[test]
fn request_errors_follow_rfc_6749() {
    let post = "&client_id=c&client_secret=s";
    let cases: Vec<(HeaderMap, String, ErrorCode)> = vec![
        (
            headers(None),
            format!("scope=read{post}"),
            ErrorCode::InvalidRequest,
        ),
        (
            headers(None),
            format!("grant_type=password{post}"),
            ErrorCode::UnsupportedGrantType,
        ),
        (
            headers(None),
            format!("grant_type=client_credentials&grant_type=client_credentials{post}"),
            ErrorCode::InvalidRequest,
        ),
        (
            headers(None),
            "grant_type=client_credentials".into(),
            ErrorCode::InvalidClient,
        ),
        (
            headers(None),
            "grant_type=client_credentials&client_secret=s".into(),
            ErrorCode::InvalidRequest,
        ),
        (
            headers(Some(&basic("c", "s"))),
            format!("grant_type=client_credentials{post}"),
            ErrorCode::InvalidRequest,
        ),
        (
            headers(Some(&basic("c", "s"))),
            "grant_type=client_credentials&client_id=other".into(),
            ErrorCode::InvalidRequest,
        ),
        (
            headers(Some("Basic !!!")),
            "grant_type=client_credentials".into(),
            ErrorCode::InvalidClient,
        ),
        (
            headers(Some(&format!("Basic {}", STANDARD.encode("no-colon")))),
            "grant_type=client_credentials".into(),
            ErrorCode::InvalidClient,
        ),
        (
            headers(Some("Bearer abc")),
            "grant_type=client_credentials".into(),
            ErrorCode::InvalidClient,
        ),
        (
            headers(None),
            format!("grant_type=client_credentials{post}&x=%FF"),
            ErrorCode::InvalidRequest,
        ),
    ];
    for (h, body, expected) in cases {
        assert_eq!(
            code(TokenRequest::parse(&h, "", body.as_bytes())),
            expected,
            "{body}"
        );
    }
    let mut text = headers(None);
    text.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    assert_eq!(
        code(TokenRequest::parse(
            &text,
            "",
            b"grant_type=client_credentials"
        )),
        ErrorCode::InvalidRequest
    );
    let many: String = (0..40).map(|i| format!("p{i}=v&")).collect();
    assert_eq!(
        code(TokenRequest::parse(&headers(None), "", many.as_bytes())),
        ErrorCode::InvalidRequest
    );
}

fn json_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h
}

fn json_error(body: &str) -> String {
    let error = TokenRequest::parse(&json_headers(), "", body.as_bytes()).unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidRequest, "{body}");
    error.to_string()
}

#[test]
fn a_json_body_means_what_the_form_means() {
    let r = TokenRequest::parse(
        &json_headers(),
        "",
        br#" {"grant_type": "client_credentials", "client_id": "c", "client_secret": "kgs_topsecret", "scope": ""} "#,
    )
    .unwrap();
    assert_eq!(r.grant_type, GrantType::ClientCredentials);
    assert_eq!(r.credentials.method, AuthMethod::ClientSecretPost);
    assert_eq!(r.scope, None, "an empty string counts as absent");
    let refresh = TokenRequest::parse(
        &json_headers(),
        "",
        br#"{"grant_type": "refresh_token", "refresh_token": "kgr_x", "client_id": "c", "client_secret": "s"}"#,
    )
    .unwrap();
    assert_eq!(refresh.param("refresh_token"), Some("kgr_x"));
}

#[test]
fn json_bodies_are_held_to_the_form_rules() {
    let cases = [
        (
            r#"{"grant_type": "client_credentials", "grant_type": "client_credentials"}"#,
            "more than once",
        ),
        (r#"{"grant_type": 1}"#, "'grant_type' must be a string"),
        (r#"{"grant_type": null}"#, "must be a string"),
        (r#"{"grant_type": true}"#, "must be a string"),
        (
            r#"{"grant_type": ["client_credentials"]}"#,
            "must be a string",
        ),
        (r#"{"grant_type": {"a": "b"}}"#, "must be a string"),
        (r#"["grant_type", "client_credentials"]"#, "one JSON object"),
        (r#""kgs_topsecret""#, "one JSON object"),
        (r#"{"grant_type": "client_credentials""#, "not valid JSON"),
        (
            r#"{"grant_type": "client_credentials"} {}"#,
            "not valid JSON",
        ),
        (r#"{"grant_type": "\ud800"}"#, "not valid JSON"),
    ];
    for (body, expected) in cases {
        let message = json_error(body);
        assert!(message.contains(expected), "{body}: {message}");
        assert!(!message.contains("topsecret"), "{message}");
    }
    let nested = format!("{{\"a\": {}{}}}", "[".repeat(5000), "]".repeat(5000));
    assert!(json_error(&nested).contains("not valid JSON"));
    let many: Vec<String> = (0..40).map(|i| format!("\"p{i}\": \"v\"")).collect();
    let many = format!("{{{}}}", many.join(","));
    assert!(json_error(&many).contains("too many parameters"));
    // A secret in a refused value is never echoed.
    let message = json_error(r#"{"client_secret": ["kgs_topsecret"]}"#);
    assert!(!message.contains("topsecret"), "{message}");
}

#[test]
fn a_json_body_sent_as_form_data_is_told_what_to_send() {
    let body = br#"{ "grant_type": "client_credentials", "client_id": "c", "client_secret": "s" }"#;
    let error = TokenRequest::parse(&headers(None), "", body).unwrap_err();
    assert_eq!(error.code(), ErrorCode::InvalidRequest);
    let message = error.to_string();
    assert!(
        message.contains("Content-Type: application/json"),
        "{message}"
    );
    assert!(
        message.contains("grant_type=client_credentials&client_id="),
        "{message}"
    );
    let action = TokenActionRequest::parse(&headers(None), "", b"\n {\"token\": \"t\"}");
    assert_eq!(action.unwrap_err().code(), ErrorCode::InvalidRequest);
}

#[test]
fn one_resource_by_resource_or_audience() {
    let cc = "grant_type=client_credentials&client_id=c&client_secret=s";
    let parse =
        |extra: &str| TokenRequest::parse(&headers(None), "", format!("{cc}{extra}").as_bytes());
    let a = "https%3A%2F%2Fa.example";
    for extra in [
        format!("&resource={a}"),
        format!("&audience={a}"),
        format!("&resource={a}&resource={a}&audience={a}"),
    ] {
        let parsed = parse(&extra).unwrap();
        assert_eq!(parsed.resource.as_deref(), Some("https://a.example"));
        assert_eq!(parsed.param("audience"), None);
    }
    assert_eq!(parse("&resource=").unwrap().resource, None);
    for extra in [
        format!("&resource={a}&resource=https%3A%2F%2Fb.example"),
        format!("&resource={a}&audience=https%3A%2F%2Fb.example"),
        "&resource=not-a-uri".to_owned(),
        "&resource=https%3A%2F%2Fa.example%23x".to_owned(),
    ] {
        assert_eq!(code(parse(&extra)), ErrorCode::InvalidTarget, "{extra}");
    }
    assert_eq!(
        code(parse(&format!("&audience={a}&audience={a}"))),
        ErrorCode::InvalidRequest
    );
    let many: String = (0..40).map(|_| format!("&resource={a}")).collect();
    assert_eq!(code(parse(&many)), ErrorCode::InvalidRequest);
}
