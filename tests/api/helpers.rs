//! `TestApp`: the real application on an ephemeral port with its own database and
//! keys directory, plus request helpers a client of keygate would write.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use diesel::{Connection, RunQueryDsl};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use keygate::clients::registration::{register, RegistrationPolicy};
use keygate::clients::ClientRegistration;
use keygate::clock::{Clock, SystemClock};
use keygate::config::Settings;
use keygate::startup::Application;
use keygate::store::{DatabaseUrl, Store, StoreError};
use tempfile::TempDir;

pub const ISSUER: &str = "http://keygate.test";

/// A database for one test: a SQLite file in a temp dir, or a fresh PostgreSQL
/// database named after a UUID, dropped when the test ends.
pub struct TestDatabase {
    pub url: String,
    postgres_admin: Option<(String, String)>,
}

impl TestDatabase {
    pub fn create(dir: &TempDir) -> Self {
        match std::env::var("KEYGATE_TEST_DATABASE_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("kg_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = diesel::PgConnection::establish(&admin_url)
                    .unwrap_or_else(|e| panic!("KEYGATE_TEST_DATABASE_URL unreachable: {e}"));
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .unwrap();
                let mut url = url::Url::parse(&admin_url).unwrap();
                url.set_path(&name);
                // No TLS to a loopback server: libpq's OpenSSL exit handlers crashed
                // the test process (SIGSEGV) when an r2d2 thread was still connecting
                // — retrying a database a test had blocked — as the process exited.
                if !url.query_pairs().any(|(k, _)| k == "sslmode") {
                    url.query_pairs_mut().append_pair("sslmode", "disable");
                }
                Self {
                    url: url.to_string(),
                    postgres_admin: Some((admin_url, name)),
                }
            }
            _ => Self {
                url: format!("sqlite://{}", dir.path().join("keygate.db").display()),
                postgres_admin: None,
            },
        }
    }
}

/// PostgreSQL only: makes the app's database refuse keygate — every connection killed,
/// new ones refused — and accept it again; what a stopped server looks like to
/// keygate, without stopping the server the other tests share.
pub struct DatabaseSwitch {
    admin: diesel::PgConnection,
    name: String,
}

impl DatabaseSwitch {
    pub fn new(admin_url: &str, app: &TestApp) -> Self {
        let DatabaseUrl::Postgres(url) = &app.settings.database_url else {
            panic!("a PostgreSQL test")
        };
        let name = url::Url::parse(url.expose())
            .unwrap()
            .path()
            .trim_start_matches('/')
            .to_owned();
        Self {
            admin: diesel::PgConnection::establish(admin_url).unwrap(),
            name,
        }
    }

    pub fn refuse(&mut self) {
        let name = self.name.clone();
        self.sql(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
        self.sql(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ));
    }

    pub fn accept(&mut self) {
        self.sql(format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            self.name
        ));
    }

    /// Stops (SIGSTOP) every server process of the app's database: a hung backend.
    /// Its connections stay open and nothing answers on them — not even the
    /// statement timeout, which the backend would have to fire itself. New
    /// connections still get fresh backends. They go on (SIGCONT) when the returned
    /// guard is dropped, a failed assertion included. Needs root: the backends are
    /// `postgres`'s processes.
    pub fn stop_backends(&mut self) -> StoppedBackends {
        #[derive(diesel::QueryableByName)]
        struct Backend {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            pid: i32,
        }
        let pids: Vec<String> = diesel::sql_query(format!(
            "SELECT pid FROM pg_stat_activity WHERE datname = '{}'",
            self.name
        ))
        .load::<Backend>(&mut self.admin)
        .unwrap()
        .into_iter()
        .map(|b| b.pid.to_string())
        .collect();
        assert!(!pids.is_empty(), "no backend of {} to stop", self.name);
        signal("-STOP", &pids);
        StoppedBackends(pids)
    }

    fn sql(&mut self, query: String) {
        diesel::sql_query(query).execute(&mut self.admin).unwrap();
    }
}

/// Backends stopped by `DatabaseSwitch::stop_backends`, continued on drop.
pub struct StoppedBackends(Vec<String>);

impl Drop for StoppedBackends {
    fn drop(&mut self) {
        signal("-CONT", &self.0);
    }
}

fn signal(signal: &str, pids: &[String]) {
    let status = std::process::Command::new("kill")
        .arg(signal)
        .args(pids)
        .status()
        .unwrap();
    assert!(
        status.success() || std::thread::panicking(),
        "kill {signal} {pids:?}"
    );
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.postgres_admin {
            if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin);
            }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub settings: Settings,
    pub store: Store,
    /// The bootstrap admin key `serve` would print (every configured scope).
    pub admin_key: String,
    // Held for their Drop: the database and the temp dir live as long as the app.
    _db: TestDatabase,
    _dir: TempDir,
}

/// A registered client and its secret.
#[derive(Clone, Debug)]
pub struct TestClient {
    pub id: String,
    pub secret: String,
}

pub fn test_settings(dir: &TempDir, db: &TestDatabase) -> Settings {
    Settings {
        database_url: DatabaseUrl::parse(&db.url).unwrap(),
        database_max_connections: 4,
        bind: "127.0.0.1:0".into(),
        issuer: ISSUER.parse().unwrap(),
        keys_dir: dir.path().join("keys"),
        workers: 1,
        ..Settings::default()
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_with_clock(configure, Arc::new(SystemClock)).await
    }

    /// With a clock the test moves (e.g. `ManualClock`), for expiry without sleeping.
    pub async fn spawn_with_clock(
        configure: impl FnOnce(&mut Settings),
        clock: Arc<dyn Clock>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDatabase::create(&dir);
        let mut settings = test_settings(&dir, &db);
        configure(&mut settings);
        let mut app = Application::build_with_clock(settings.clone(), clock).unwrap();
        let admin_key = app
            .take_bootstrap_key()
            .expect("a fresh database gets a bootstrap key")
            .expose()
            .to_owned();
        let address = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        let store = Store::open(&settings.database_url, 2).unwrap();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            address,
            http,
            settings,
            store,
            admin_key,
            _db: db,
            _dir: dir,
        }
    }

    /// A second keygate instance on the same database and keys (and the same
    /// settings otherwise); returns its base URL.
    pub async fn spawn_sibling(&self, clock: Arc<dyn Clock>) -> String {
        let app = Application::build_with_clock(self.settings.clone(), clock).unwrap();
        let address = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        address
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Registers a client in the default organization.
    pub fn client(&self, registration: ClientRegistration) -> TestClient {
        let known = self.settings.scope_set();
        let policy = RegistrationPolicy {
            known_scopes: &known,
            max_token_ttl: self.settings.access_token_ttl_max,
        };
        let now = chrono::Utc::now().naive_utc();
        let (client, secret) = self
            .store
            .with_conn(|c| register(c, registration, "default", &policy, now))
            .unwrap();
        TestClient {
            id: client.id,
            secret: secret.expose().to_owned(),
        }
    }

    pub fn client_with_scope(&self, scope: &str) -> TestClient {
        self.client(ClientRegistration {
            name: "test client".into(),
            scope: scope.into(),
            ..Default::default()
        })
    }

    /// A client whose tokens are for keygate's own API (`management_audience`).
    pub fn management_client(&self, scope: &str) -> TestClient {
        self.client(ClientRegistration {
            name: "automation".into(),
            scope: scope.into(),
            audience: Some(format!("{ISSUER}/v1")),
            ..Default::default()
        })
    }

    pub fn disable(&self, client: &TestClient) {
        let now = chrono::Utc::now().naive_utc();
        self.store
            .with_conn(|c| {
                keygate::clients::repo::disable(c, &client.id, now).map_err(StoreError::from)
            })
            .unwrap();
    }

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
    pub async fn token_json(&self, client: &TestClient) -> serde_json::Value {
        let response = self
            .token_basic(client, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
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

    /// A client registered for client_credentials and refresh_token.
    pub fn refresh_client(&self, scope: &str, grace: Option<Duration>) -> TestClient {
        self.client(ClientRegistration {
            name: "long-running integration".into(),
            scope: scope.into(),
            grant_types: vec!["client_credentials".into(), "refresh_token".into()],
            refresh_reuse_grace: grace,
            ..Default::default()
        })
    }

    /// client_credentials for a refresh-enabled client: (access token, refresh token).
    pub async fn first_tokens(&self, client: &TestClient) -> (String, String) {
        let response = self
            .token_basic(client, &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
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

    pub async fn jwks(&self) -> JwkSet {
        self.http
            .get(self.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Verifies an access token as a resource server would: key from the published
    /// JWKS by `kid`, algorithm pinned to the key's, `iss`, `aud` and `exp` checked.
    pub async fn verify(&self, token: &str, audience: &str) -> serde_json::Value {
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let jwks = self.jwks().await;
        let jwk = jwks
            .find(header.kid.as_deref().unwrap())
            .expect("kid published in JWKS");
        let alg = jwk
            .common
            .key_algorithm
            .unwrap()
            .to_string()
            .parse()
            .unwrap();
        assert_eq!(header.alg, alg);
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        jsonwebtoken::decode::<serde_json::Value>(
            token,
            &DecodingKey::from_jwk(jwk).unwrap(),
            &validation,
        )
        .unwrap()
        .claims
    }
}

/// The management API (`/v1/…`), as its users call it.
impl TestApp {
    /// A request to `path` with `X-API-Key: key`.
    pub fn with_key(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("X-API-Key", key)
    }

    /// The status of an unauthenticated GET (health, readiness).
    pub async fn status_of(&self, path: &str) -> u16 {
        self.http
            .get(self.url(path))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// GET /v1/me with arbitrary headers.
    pub async fn me(&self, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.http.get(self.url("/v1/me"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// POST /v1/api-keys with `body`, as the holder of `admin`.
    pub async fn create_key_as(&self, admin: &str, body: serde_json::Value) -> reqwest::Response {
        self.with_key(reqwest::Method::POST, "/v1/api-keys", admin)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// A client registered through `POST /v1/clients` with `body`, as the bootstrap
    /// admin key: (client, the 201 body).
    pub async fn registered_client(
        &self,
        body: serde_json::Value,
    ) -> (TestClient, serde_json::Value) {
        let response = self
            .with_key(reqwest::Method::POST, "/v1/clients", &self.admin_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let created: serde_json::Value = response.json().await.unwrap();
        let client = TestClient {
            id: created["client_id"].as_str().unwrap().to_owned(),
            secret: created["client_secret"].as_str().unwrap().to_owned(),
        };
        (client, created)
    }

    /// A new key with `scopes` (space-separated), made with the bootstrap admin key:
    /// (id, key).
    pub async fn api_key(&self, scopes: &str) -> (String, String) {
        let scopes: Vec<&str> = scopes.split(' ').collect();
        let response = self
            .create_key_as(
                &self.admin_key,
                serde_json::json!({"name": "test key", "scopes": scopes}),
            )
            .await;
        assert_eq!(response.status(), 201);
        let body: serde_json::Value = response.json().await.unwrap();
        (
            body["id"].as_str().unwrap().to_owned(),
            body["key"].as_str().unwrap().to_owned(),
        )
    }

    /// A second organization with its own admin key, made as the operator would.
    pub fn other_org_admin(&self) -> String {
        use keygate::orgs::model::NewOrganization;
        let now = chrono::Utc::now().naive_utc();
        self.store
            .with_conn(|c| {
                keygate::orgs::repo::create(c, &NewOrganization::new("other", "Other", now))
                    .map_err(StoreError::from)
            })
            .unwrap();
        self.operator_key("other", "read write admin webhook", None)
            .1
    }

    /// A key made as the operator would (no request through the API, so nothing is
    /// counted against rate limits): (id, key).
    pub fn operator_key(
        &self,
        org_slug: &str,
        scopes: &str,
        rate_limit: Option<u32>,
    ) -> (String, String) {
        use keygate::api_keys::{repo, Actor, KeyDraft, KeyRequest};
        let now = chrono::Utc::now().naive_utc();
        self.store
            .with_conn(|c| -> Result<(String, String), StoreError> {
                let org = keygate::orgs::repo::find_by_slug(c, org_slug)?.unwrap();
                let draft = KeyDraft::new(
                    KeyRequest {
                        name: "operator key".into(),
                        scopes: vec![scopes.into()],
                        rate_limit_per_minute: rate_limit,
                        ..Default::default()
                    },
                    &org.id,
                    &self.settings.scope_set(),
                    &Actor::Operator("test"),
                    now,
                )
                .unwrap();
                let issued = repo::create(c, &draft, now)?;
                Ok((issued.row.id, issued.key.expose().to_owned()))
            })
            .unwrap()
    }
}

/// Asserts the management API's error envelope; returns the body.
pub async fn assert_api_error(
    response: reqwest::Response,
    status: u16,
    code: &str,
) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status for {code}");
    assert!(header(&response, "content-type").starts_with("application/json"));
    let www = header(&response, "www-authenticate");
    match status {
        401 if code == "missing_credentials" => assert_eq!(www, "Bearer realm=\"keygate\""),
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
    let body: serde_json::Value = response.json().await.unwrap();
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

/// `Basic base64(urlencode(id):urlencode(secret))`.
/// Whether the tests run as root (as on this project's CI machine): the disk and
/// PostgreSQL-restart tests then mount directly and run PostgreSQL as `postgres`.
pub fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

pub fn basic_auth(id: &str, secret: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    )
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
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    let description = body["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!description.is_empty(), "{body}");
    description
}

pub fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Tests that need more than the embedded SQLite default — a PostgreSQL server, Redis,
/// nginx, root for private mounts — are `#[ignore]`d with their reason, so a plain
/// `cargo test` reports them as ignored rather than passed; `cargo test --
/// --include-ignored` runs them. Inside such a test, `available` decides: with
/// `KEYGATE_TEST_REQUIRE_ALL` set (`.ci/run`, which installs and starts every
/// service) a missing one fails the test; elsewhere the test says NOT RUN and returns.
pub fn available(what: &str, is_there: bool) -> bool {
    if is_there {
        return true;
    }
    assert!(
        std::env::var_os("KEYGATE_TEST_REQUIRE_ALL").is_none(),
        "{what} is missing, and KEYGATE_TEST_REQUIRE_ALL says every test must run"
    );
    eprintln!("NOT RUN: {what} is missing");
    false
}

/// The PostgreSQL server's admin URL in the PostgreSQL pass (`KEYGATE_TEST_DATABASE_URL`).
/// A PostgreSQL-only test returns in the SQLite pass, saying so: `.ci/run` runs it in
/// the PostgreSQL pass.
pub fn postgres_pass(why: &str) -> Option<String> {
    match std::env::var("KEYGATE_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("NOT RUN in the SQLite pass (PostgreSQL only: {why})");
            None
        }
    }
}
