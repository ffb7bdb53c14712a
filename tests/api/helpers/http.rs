//! Requests a client of keygate would write, against a [`TestApp`]: the token
//! endpoint (Basic, body credentials, refresh), the management API with an API key,
//! and the assertions on the two error shapes (the management envelope, RFC 6749
//! §5.2).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::Method;
use serde_json::Value;

use super::actors::TestClient;
use super::TestApp;

/// The token endpoint.
impl TestApp {
    /// POST /oauth/token with `client_secret_basic` (RFC 6749 §2.3.1 encoding).
    pub async fn token_basic(
        &self,
        client: &TestClient,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http
            .post(self.url("/oauth/token"))
            .header("Authorization", basic_auth(&client.id, &client.secret))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// client_credentials with Basic auth: the JSON body of the 200 response.
    pub async fn token_json(&self, client: &TestClient) -> Value {
        let response = self
            .token_basic(client, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// client_credentials with Basic auth: the access token.
    pub async fn access_token(&self, client: &TestClient) -> String {
        self.token_json(client).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// POST /oauth/token with `client_secret_post`.
    pub async fn token_post(
        &self,
        client: &TestClient,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = form.to_vec();
        form.push(("client_id", &client.id));
        form.push(("client_secret", &client.secret));
        self.http
            .post(self.url("/oauth/token"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// client_credentials for a refresh-enabled client: (access token, refresh token).
    pub async fn first_tokens(&self, client: &TestClient) -> (String, String) {
        let body = self.token_json(client).await;
        (
            body["access_token"].as_str().unwrap().to_owned(),
            body["refresh_token"]
                .as_str()
                .expect("a refresh token")
                .to_owned(),
        )
    }

    /// POST /oauth/token, grant_type=refresh_token, Basic auth.
    pub async fn refresh(
        &self,
        client: &TestClient,
        refresh_token: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        form.extend_from_slice(extra);
        self.token_basic(client, &form).await
    }

    /// `refresh` with nothing else: (status, JSON body), whatever the answer.
    pub async fn refreshed(&self, client: &TestClient, refresh_token: &str) -> (u16, Value) {
        let response = self.refresh(client, refresh_token, &[]).await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body, always"))
    }

    /// POST /oauth/token with a raw body and headers, for malformed requests.
    pub async fn token_raw(
        &self,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = self.http.post(self.url("/oauth/token")).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// POST /oauth/introspect (RFC 7662) as `client`: the 200 body.
    pub async fn introspect(&self, client: &TestClient, token: &str, hint: Option<&str>) -> Value {
        let response = self
            .token_action("/oauth/introspect", client, token, hint)
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "cache-control"), "no-store");
        response.json().await.unwrap()
    }

    /// POST /oauth/revoke (RFC 7009) as `client`, which answers 200.
    pub async fn revoke(&self, client: &TestClient, token: &str, hint: Option<&str>) {
        let response = self
            .token_action("/oauth/revoke", client, token, hint)
            .await;
        assert_eq!(response.status(), 200);
    }

    /// POST `path` (introspection, revocation) with `token` and an optional
    /// `token_type_hint`, authenticated as `client` with Basic.
    pub async fn token_action(
        &self,
        path: &str,
        client: &TestClient,
        token: &str,
        hint: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![("token", token)];
        if let Some(hint) = hint {
            form.push(("token_type_hint", hint));
        }
        self.http
            .post(self.url(path))
            .header("Authorization", basic_auth(&client.id, &client.secret))
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

/// A successful refresh: the body and the new refresh token; no cache may keep it.
pub async fn rotated(response: reqwest::Response) -> (Value, String) {
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "cache-control"), "no-store");
    let body: Value = response.json().await.unwrap();
    let refresh = body["refresh_token"]
        .as_str()
        .expect("a new refresh token")
        .to_owned();
    (body, refresh)
}

/// The management API (`/v1/…`), as its users call it.
impl TestApp {
    /// A request to `path` with `X-API-Key: key`.
    pub fn with_key(&self, method: Method, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("X-API-Key", key)
    }

    /// `method path` with `key` and no body.
    pub async fn send(&self, method: Method, path: &str, key: &str) -> reqwest::Response {
        self.with_key(method, path, key).send().await.unwrap()
    }

    /// `method path` with `key` and a JSON body.
    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.with_key(method, path, key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str, key: &str) -> reqwest::Response {
        self.send(Method::GET, path, key).await
    }

    /// The JSON body of a GET that must succeed.
    pub async fn get_json(&self, path: &str, key: &str) -> Value {
        let response = self.get(path, key).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "GET {path}: {status} {body}");
        body
    }

    /// The body of a GET, as text, whatever the answer.
    pub async fn get_text(&self, path: &str, key: &str) -> String {
        self.get(path, key).await.text().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, key: &str, body: &Value) -> reqwest::Response {
        self.send_json(Method::POST, path, key, body).await
    }

    pub async fn patch_json(&self, path: &str, key: &str, body: &Value) -> reqwest::Response {
        self.send_json(Method::PATCH, path, key, body).await
    }

    /// The JSON body of an unauthenticated GET (metadata, the OpenAPI document).
    pub async fn public_json(&self, path: &str) -> Value {
        self.public_get(path).await.json().await.unwrap()
    }

    /// The body of an unauthenticated GET, as text.
    pub async fn public_text(&self, path: &str) -> String {
        self.public_get(path).await.text().await.unwrap()
    }

    pub async fn public_get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// The status of an unauthenticated GET (health, readiness).
    pub async fn status_of(&self, path: &str) -> u16 {
        self.public_get(path).await.status().as_u16()
    }

    /// GET /v1/me with arbitrary headers.
    pub async fn me(&self, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.http.get(self.url("/v1/me"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }
}

/// Asserts the management API's error envelope; returns the body.
pub async fn assert_api_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status for {code}");
    assert!(header(&response, "content-type").starts_with("application/json"));
    let www = header(&response, "www-authenticate");
    match status {
        // Forward-auth's 401s end with RFC 9728's resource_metadata as well.
        401 if code == "missing_credentials" => assert!(
            www == "Bearer realm=\"keygate\""
                || www.starts_with("Bearer realm=\"keygate\", resource_metadata=\""),
            "challenge: {www}"
        ),
        401 => assert!(
            www.starts_with("Bearer realm=\"keygate\", error=\"invalid_token\""),
            "challenge: {www}"
        ),
        403 if code == "insufficient_scope" => assert!(
            www.starts_with("Bearer realm=\"keygate\", error=\"insufficient_scope\", scope="),
            "challenge: {www}"
        ),
        _ => assert!(www.is_empty(), "no challenge on {status}: {www}"),
    }
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{body}"
    );
    assert!(body["error"]["details"].is_object(), "{body}");
    body
}

/// Asserts an RFC 6749 §5.2 error and returns its description.
pub async fn assert_oauth_error(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status().as_u16(), status, "status for {code}");
    assert_eq!(header(&response, "cache-control"), "no-store");
    assert!(header(&response, "content-type").starts_with("application/json"));
    let www = header(&response, "www-authenticate");
    // RFC 6749 §5.2: a Basic challenge on every 401 invalid_client (RFC 9110: a 401
    // carries one); a 400 invalid_client (a client_secret_post failure) has none.
    match (code, status) {
        ("invalid_client", 401) => assert!(
            www.starts_with("Basic realm=\"keygate\""),
            "challenge: {www}"
        ),
        ("invalid_client", _) => assert!(www.is_empty(), "no challenge on {status}: {www}"),
        _ => {}
    }
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    let description = body["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!description.is_empty(), "{body}");
    description
}

/// `Basic base64(urlencode(id):urlencode(secret))`.
pub fn basic_auth(id: &str, secret: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    )
}

pub fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}
