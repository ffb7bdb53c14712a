//! Who calls keygate in the tests, as types: a registered client ([`TestClient`]), an
//! API key ([`TestKey`]), an RFC 7591 registration ([`Registered`]) — and the ways a
//! test gets one: as the operator would (no request, nothing counted against rate
//! limits), or through the API as its users do.

use keygate::clients::{service, ClientRegistration};
use keygate::config::CredentialPolicy;
use keygate::identity::authority::Actor;

use super::db::TestConnection;
use serde_json::Value;

use super::http::header;
use super::{TestApp, ISSUER};

/// A registered client and its secret.
#[derive(Clone, Debug)]
pub struct TestClient {
    pub id: String,
    pub secret: String,
}

impl TestClient {
    /// The client in a creation answer (`/v1/clients`, RFC 7591, `keygate client
    /// create`): `client_id` and `client_secret`.
    pub fn from_created(body: &Value) -> Self {
        Self {
            id: body["client_id"].as_str().unwrap().to_owned(),
            secret: body["client_secret"].as_str().unwrap().to_owned(),
        }
    }

    /// The same client id with another secret (a guess, a typo, an old secret).
    pub fn with_secret(&self, secret: &str) -> Self {
        Self {
            id: self.id.clone(),
            secret: secret.to_owned(),
        }
    }
}

/// An API key: its id (for the `/v1/api-keys/{id}` routes) and the key itself,
/// shown once.
#[derive(Clone, Debug)]
pub struct TestKey {
    pub id: String,
    pub key: String,
}

impl TestKey {
    /// The key in a creation answer (`/v1/api-keys`, `keygate api-key create`).
    pub fn from_created(body: &Value) -> Self {
        Self {
            id: body["id"].as_str().unwrap().to_owned(),
            key: body["key"].as_str().unwrap().to_owned(),
        }
    }
}

/// A client registered through RFC 7591 and what managing it takes (RFC 7592).
#[derive(Clone, Debug)]
pub struct Registered {
    pub client: TestClient,
    pub registration_token: String,
    /// `registration_client_uri`, absolute (under the issuer).
    pub uri: String,
    /// The path of `registration_client_uri`, for requests to the test server.
    pub path: String,
    /// The whole 201 body.
    pub body: Value,
}

/// Clients and keys made as the operator would: straight into the store.
impl TestApp {
    /// Registers a client in the default organization.
    pub fn client(&self, registration: ClientRegistration) -> TestClient {
        self.client_in("default", registration)
    }

    /// Registers a client in the organization `org_slug`.
    pub fn client_in(&self, org_slug: &str, registration: ClientRegistration) -> TestClient {
        self.client_under(&self.settings.credential_policy(), org_slug, registration)
    }

    /// Registers a client in the organization `org_slug` under `policy`, which may be
    /// another than the server's (as before a configuration change).
    pub fn client_under(
        &self,
        policy: &CredentialPolicy,
        org_slug: &str,
        registration: ClientRegistration,
    ) -> TestClient {
        let now = chrono::Utc::now().naive_utc();
        let actor = Actor::operator("test");
        let issued = self
            .store
            .with_conn(|c| -> Result<_, service::ClientError> {
                let org = keygate::orgs::repo::find_by_slug(c, org_slug)?.unwrap();
                let draft = service::draft(&actor, &org.id, registration, policy, None)?;
                // argon2 outside the transaction, as every door does it.
                let prepared = draft.prepare(now)?;
                service::register(c, &actor, prepared, now)
            })
            .unwrap();
        TestClient {
            id: issued.client.id.to_string(),
            // A public client has none: its secret is empty.
            secret: issued
                .secret
                .as_ref()
                .map(|s| s.expose().to_owned())
                .unwrap_or_default(),
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

    /// A client registered for client_credentials and refresh_token.
    pub fn refresh_client(&self, scope: &str, grace: Option<std::time::Duration>) -> TestClient {
        self.client(ClientRegistration {
            name: "long-running integration".into(),
            scope: scope.into(),
            grant_types: vec!["client_credentials".into(), "refresh_token".into()],
            refresh_reuse_grace: grace,
            ..Default::default()
        })
    }

    pub fn disable(&self, client: &TestClient) {
        let now = chrono::Utc::now().naive_utc();
        self.store
            .with_conn(|c| {
                let id = keygate::ids::ClientId::from(client.id.as_str());
                service::disable(c, &Actor::operator("test"), &id, None, now)
            })
            .unwrap();
    }

    /// A new organization, as the operator makes one.
    pub fn organization(&self, slug: &str, name: &str) {
        use keygate::identity::authority::Actor;
        let now = chrono::Utc::now().naive_utc();
        let (actor, tiers) = (Actor::operator("test"), &self.settings.tiers);
        self.store
            .with_conn(|c| {
                keygate::orgs::service::create(c, &actor, slug, name, "free", tiers, now)
            })
            .unwrap();
    }

    /// A second organization with its own admin key, made as the operator would.
    pub fn other_org_admin(&self) -> TestKey {
        self.organization("other", "Other");
        self.operator_key("other", "read write admin webhook", None)
    }

    /// A key made as the operator would (no request through the API, so nothing is
    /// counted against rate limits).
    pub fn operator_key(&self, org_slug: &str, scopes: &str, rate_limit: Option<u32>) -> TestKey {
        use keygate::api_keys::{service, KeyRequest};
        use keygate::identity::authority::Actor;
        let now = chrono::Utc::now().naive_utc();
        self.store
            .with_conn(|c| -> Result<TestKey, service::KeyError> {
                let org = keygate::orgs::repo::find_by_slug(c, org_slug)?.unwrap();
                let request = KeyRequest {
                    name: "operator key".into(),
                    scopes: vec![scopes.into()],
                    rate_limit_per_minute: rate_limit,
                    ..Default::default()
                };
                let (actor, known) = (Actor::operator("test"), &self.settings.scopes);
                let issued = service::create(c, &actor, &org.id, request, known, now)?;
                Ok(TestKey {
                    id: issued.row.id.to_string(),
                    key: issued.key.expose().to_owned(),
                })
            })
            .unwrap()
    }
}

/// Clients and keys made through the API, as its users make them.
impl TestApp {
    /// POST /v1/api-keys with `body`, as the holder of `admin`.
    pub async fn create_key_as(&self, admin: &str, body: Value) -> reqwest::Response {
        self.post_json("/v1/api-keys", admin, &body).await
    }

    /// A new key with `scopes` (space-separated), made with the bootstrap admin key.
    pub async fn api_key(&self, scopes: &str) -> TestKey {
        let scopes: Vec<&str> = scopes.split(' ').collect();
        let response = self
            .create_key_as(
                &self.admin_key,
                serde_json::json!({"name": "test key", "scopes": scopes}),
            )
            .await;
        TestKey::from_created(&created(response).await)
    }

    /// A client registered through `POST /v1/clients` with `body`, as the bootstrap
    /// admin key: (client, the 201 body).
    pub async fn registered_client(&self, body: Value) -> (TestClient, Value) {
        let response = self.post_json("/v1/clients", &self.admin_key, &body).await;
        let created = created(response).await;
        (TestClient::from_created(&created), created)
    }

    /// POST /oauth/register (RFC 7591) with `body`, bearing `bearer` if given.
    pub async fn register_as(&self, bearer: Option<&str>, body: &Value) -> reqwest::Response {
        let mut request = self.http.post(self.url("/oauth/register")).json(body);
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send().await.unwrap()
    }

    /// A client registered through RFC 7591 with `body`, bearing `bearer`; the
    /// answer must be a 201 that no cache keeps.
    pub async fn registered_as(&self, bearer: &str, body: &Value) -> Registered {
        let response = self.register_as(Some(bearer), body).await;
        assert_eq!(header(&response, "cache-control"), "no-store");
        let body = created(response).await;
        let uri = body["registration_client_uri"].as_str().unwrap().to_owned();
        Registered {
            client: TestClient::from_created(&body),
            registration_token: body["registration_access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
            path: url::Url::parse(&uri).unwrap().path().to_owned(),
            uri,
            body,
        }
    }

    /// A client registered through RFC 7591 with `body`, bearing the bootstrap admin
    /// key.
    pub async fn registered(&self, body: Value) -> Registered {
        self.registered_as(&self.admin_key, &body).await
    }
}

/// The body of a 201, which the answer must be.
pub async fn created(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}
