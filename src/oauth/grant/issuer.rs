//! oxide-auth's `Issuer` for one token request: it signs RFC 9068 access tokens with
//! the active key — for the client itself, or for the person an authorization code or
//! a refresh family acts for — starts a refresh-token family for a grant that gets
//! one, and screens and rotates a presented refresh token. Redeeming the code is its
//! `Authorizer` side (`authorizer.rs`), which hands it the redeemed code.

use std::cell::RefCell;
use std::time::Duration;

use chrono::{DateTime, Utc};
use oxide_auth::endpoint::Scope;
use oxide_auth::primitives::grant::{Extensions, Grant};
use oxide_auth::primitives::issuer::{IssuedToken, Issuer, RefreshedToken, TokenType};

use super::refusal::Refusal;
use crate::audit::Source;
use crate::clients::{Client, GrantType};
use crate::config::MIN_ACCESS_TOKEN_TTL;
use crate::oauth::authorization_code::{self, StoredCode};
use crate::oauth::error::OAuthError;
use crate::oauth::state::OAuthState;
use crate::refresh::repo::Screening;
use crate::refresh::{self, Refused};
use crate::scope::ScopeSet;
use crate::secret::Secret;
use crate::store::{StoreError, Tx};
use crate::tokens::{jwt, AccessTokenClaims};

/// What the token endpoint returns on success. `Debug` leaves out the tokens.
pub struct IssuedAccessToken {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
    pub refresh_token: Option<Secret>,
}

impl std::fmt::Debug for IssuedAccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedAccessToken")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

/// RFC 8707 §2: a resource the client is not registered for. One message whether the
/// client has other audiences or not.
fn not_the_clients_resource() -> OAuthError {
    OAuthError::invalid_target(
        "the requested resource is not one this client may obtain tokens for",
    )
}

/// Why the write that issues a grant's refresh family and records its code failed.
enum IssueWrite {
    Store(StoreError),
    /// The code was spent by a concurrent redemption.
    CodeReused,
}

impl From<StoreError> for IssueWrite {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<diesel::result::Error> for IssueWrite {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(error.into())
    }
}

/// Whom an access token is for: `sub` and `org` — the client and its organization,
/// or a person and the organization they act in.
#[derive(Clone, Copy)]
struct Subject<'a> {
    sub: &'a str,
    org: &'a str,
}

impl<'a> Subject<'a> {
    fn client(client: &'a Client) -> Self {
        Self {
            sub: client.id.as_str(),
            org: client.org_id.as_str(),
        }
    }
}

struct Signed {
    token: String,
    expires_in: i64,
    jti: String,
}

/// Signs RFC 9068 access tokens with the active key and keeps refresh-token families.
pub struct JwtIssuer<'a, 't> {
    state: &'a OAuthState,
    client: Option<&'a Client>,
    now: DateTime<Utc>,
    /// Refresh-family writes go through `Tx::write` (SQLite's single writer).
    tx: RefCell<&'a mut Tx<'t>>,
    /// The family `recover_refresh` read, for `refresh` to rotate without re-reading.
    recovered: RefCell<Option<refresh::Family>>,
    refusal: &'a Refusal,
    /// Where the request came from, for the audit event of a detected reuse.
    source: &'a Source,
    /// The RFC 8707 resource the request names (`None`: the default).
    resource: Option<&'a str>,
    /// The PKCE `code_verifier` and the `redirect_uri` of an authorization_code
    /// request.
    pub(super) code_request: (Option<&'a str>, Option<&'a str>),
    /// The code `extract` redeemed, for `issue`.
    pub(super) redeemed: RefCell<Option<StoredCode>>,
    /// The token as keygate reports it; oxide-auth's own `BearerToken` is opaque and
    /// spells `token_type` in lower case.
    pub issued: Option<IssuedAccessToken>,
}

impl<'a, 't> JwtIssuer<'a, 't> {
    pub fn new(
        state: &'a OAuthState,
        client: Option<&'a Client>,
        now: DateTime<Utc>,
        tx: &'a mut Tx<'t>,
        refusal: &'a Refusal,
        source: &'a Source,
    ) -> Self {
        Self {
            state,
            client,
            now,
            tx: RefCell::new(tx),
            recovered: RefCell::new(None),
            refusal,
            source,
            resource: None,
            code_request: (None, None),
            redeemed: RefCell::new(None),
            issued: None,
        }
    }

    /// For a request that names an RFC 8707 resource.
    pub fn for_resource(mut self, resource: Option<&'a str>) -> Self {
        self.resource = resource;
        self
    }

    /// For an authorization_code request with this PKCE verifier and redirect URI.
    pub fn with_code_request(
        mut self,
        verifier: Option<&'a str>,
        redirect_uri: Option<&'a str>,
    ) -> Self {
        self.code_request = (verifier, redirect_uri);
        self
    }

    pub(super) fn client(&self) -> Option<&'a Client> {
        self.client
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub(super) fn source(&self) -> &'a Source {
        self.source
    }

    pub(super) fn refusal(&self) -> &'a Refusal {
        self.refusal
    }

    pub(super) fn tx(&self) -> std::cell::RefMut<'_, &'a mut Tx<'t>> {
        self.tx.borrow_mut()
    }

    /// The `aud` of a client_credentials token: the requested resource if the client
    /// may have it, else its default audience.
    fn audience_for(&self, client: &'a Client) -> Result<&'a str, ()> {
        let server_default = self.state.issuance.default_audience.as_str();
        match self.resource {
            None => Ok(client.default_audience(server_default)),
            Some(resource) if client.allows_audience(resource, server_default) => Ok(resource),
            Some(_) => {
                self.refusal.record(not_the_clients_resource());
                Err(())
            }
        }
    }

    /// The `aud` of a refreshed token. A family whose grant named a resource is bound
    /// to it (RFC 8707 §2.2: a refresh token is bound to what the grant allowed): the
    /// request may repeat it or name none. A family whose grant named none follows the
    /// client's registration: no resource is its default audience, a named one must be
    /// one of its audiences. Either way, only what the client may have now.
    fn refreshed_audience(&self, client: &Client, family: &refresh::Family) -> Result<String, ()> {
        self.bound_audience(client, family.resource.as_deref())
    }

    /// The `aud` of a token from a grant bound to `bound` (a refresh family, an
    /// authorization code): that resource, which the request may repeat, or — bound
    /// to none — what the request names or the client's default. Only what the client
    /// may have now.
    fn bound_audience(&self, client: &Client, bound: Option<&str>) -> Result<String, ()> {
        let server_default = self.state.issuance.default_audience.as_str();
        let wanted = match (bound, self.resource) {
            (Some(bound), None) => bound,
            (Some(bound), Some(named)) if named == bound => bound,
            (Some(_), Some(_)) => {
                self.refusal.record(OAuthError::invalid_target(
                    "this grant was issued for another resource: name that one, or none",
                ));
                return Err(());
            }
            (None, None) => client.default_audience(server_default),
            (None, Some(named)) => named,
        };
        if client.allows_audience(wanted, server_default) {
            Ok(wanted.to_owned())
        } else {
            self.refusal.record(not_the_clients_resource());
            Err(())
        }
    }

    /// The client's registered lifetime, else the server default, clamped to the
    /// configured bounds (which may have been lowered since the client registered;
    /// `signing-key remove` relies on `access_token_ttl_max`). oxide-auth's
    /// `Grant::until` is a fixed ten minutes and is not used.
    fn lifetime(&self, client: &Client) -> Duration {
        client
            .access_token_ttl()
            .unwrap_or(self.state.issuance.default_ttl)
            .clamp(
                MIN_ACCESS_TOKEN_TTL,
                self.state.issuance.policy.max_token_ttl,
            )
    }

    fn client_for(&self, client_id: &str) -> Result<&'a Client, ()> {
        self.client.filter(|c| c.id == client_id).ok_or(())
    }

    /// Signs an access token of `client` for `subject` with `scope` and `aud`.
    fn sign(
        &self,
        client: &Client,
        subject: Subject<'_>,
        scope: &str,
        aud: &str,
    ) -> Result<Signed, ()> {
        let expires_in = i64::try_from(self.lifetime(client).as_secs()).map_err(|_| ())?;
        let iat = self.now.timestamp();
        let jti = uuid::Uuid::new_v4().simple().to_string();
        let claims = AccessTokenClaims {
            iss: self.state.issuance.issuer.as_str(),
            sub: subject.sub,
            aud,
            client_id: client.id.as_str(),
            scope,
            iat,
            exp: iat + expires_in,
            jti: &jti,
            org: subject.org,
        };
        let ring = self.state.issuance.keys.current();
        let token = jwt::encode(ring.active(), &claims).map_err(|_| ())?;
        Ok(Signed {
            token,
            expires_in,
            jti,
        })
    }

    /// One `invalid_grant` for every refusal (no oracle); the reason goes to the log.
    fn refuse_refresh(&self, client: &Client, refused: Refused) {
        if refused == Refused::ReuseDetected {
            tracing::warn!(client_id = %client.id, "refresh token reuse detected: family revoked");
        } else {
            tracing::debug!(client_id = %client.id, reason = refused.as_str(), "refresh token refused");
        }
        self.refusal.record(OAuthError::invalid_grant(
            "the refresh token is invalid, expired, revoked or already used",
        ));
    }

    fn until(&self, expires_in: i64) -> DateTime<Utc> {
        self.now + chrono::Duration::seconds(expires_in)
    }

    /// The scopes a grant acting for a person may carry now in `org_id`: what their
    /// role holds there and their consent to `client` covers, if the person may still
    /// be acted for (not disabled, still a member, consent not withdrawn); otherwise
    /// `None`, and the request is refused as `invalid_grant`.
    fn person_holds(
        &self,
        client: &Client,
        user_id: &crate::ids::UserId,
        org_id: &crate::ids::OrgId,
    ) -> Result<Option<ScopeSet>, ()> {
        let mut tx = self.tx.borrow_mut();
        let live = crate::consents::repo::live_membership(&mut tx, user_id, org_id, &client.id)
            .map_err(|e| self.refusal.record(StoreError::from(e)))?;
        Ok(live.map(|(membership, consented)| {
            let consented = ScopeSet::parse(&consented).unwrap_or_default();
            membership
                .role()
                .scopes_within(&self.state.issuance.policy.known_scopes)
                .intersection(&consented)
        }))
    }

    /// What a redeemed code grants now: its scope within the client's registration
    /// and the person's role as they are at redemption (either may have narrowed in
    /// the code's minute), and its `aud` — the resource it was bound to, or, bound to
    /// none, the client's default (what the consent page said), which the request may
    /// repeat but not change.
    fn code_grant(&self, client: &Client, code: &StoredCode) -> Result<(String, String), ()> {
        let Some(held) = self.person_holds(client, &code.user_id, &code.org_id)? else {
            self.refusal.record(OAuthError::invalid_grant(
                "the person this code acts for can no longer be acted for",
            ));
            return Err(());
        };
        let scope = ScopeSet::parse(&code.scope)
            .map_err(|_| ())?
            .intersection(&client.allowed_scopes())
            .intersection(&held);
        if scope.is_empty() {
            self.refusal.record(OAuthError::invalid_scope(
                "nothing the code was granted is still allowed for this client and person",
            ));
            return Err(());
        }
        let server_default = self.state.issuance.default_audience.as_str();
        let aud = match (code.resource.as_deref(), self.resource) {
            (None, Some(named)) if named != client.default_audience(server_default) => {
                self.refusal.record(OAuthError::invalid_target(
                    "the authorization request named no resource: name none here, or the app's default audience",
                ));
                return Err(());
            }
            (bound, _) => self.bound_audience(client, bound)?,
        };
        Ok((scope.to_string(), aud))
    }
}

impl Issuer for JwtIssuer<'_, '_> {
    /// client_credentials: an access token, and a new refresh-token family when the
    /// client is registered for the refresh_token grant (RFC 6749 §4.4.3 says a refresh
    /// token SHOULD NOT be included by default, so only clients that opt in get one).
    /// authorization_code: the same for the person the redeemed code acts for, bound
    /// to its resource, with what was issued recorded on the code.
    fn issue(&mut self, grant: Grant) -> Result<IssuedToken, ()> {
        let client = self.client_for(&grant.client_id)?;
        let code = self.redeemed.borrow_mut().take();
        let (signed, scope, resource) = match &code {
            None => {
                let scope = ScopeSet::parse(&grant.scope.to_string())
                    .map_err(|_| ())?
                    .to_string();
                let aud = self.audience_for(client)?;
                let signed = self.sign(client, Subject::client(client), &scope, aud)?;
                (signed, scope, self.resource)
            }
            Some(code) => {
                let (scope, aud) = self.code_grant(client, code)?;
                let subject = Subject {
                    sub: code.user_id.as_str(),
                    org: code.org_id.as_str(),
                };
                let signed = self.sign(client, subject, &scope, &aud)?;
                // The family is bound to the resource the code was.
                (signed, scope, code.resource.as_deref())
            }
        };
        // The family and the code's redemption in one write, after the signing: a code
        // reused since it was read rolls nothing forward and issues nothing.
        let first = client
            .allows_grant(GrantType::RefreshToken)
            .then(refresh::FirstToken::generate)
            .transpose()
            .map_err(|e| self.refusal.record(e))?;
        let now = self.now.naive_utc();
        let access_expires_at = self.until(signed.expires_in).naive_utc();
        let source = self.source;
        let written = self.tx.borrow_mut().write(|tx| {
            // Spent here, in the statement that records what it issued, so a reuse
            // that finds it spent also finds the record.
            if let Some(code) = &code {
                let issued = authorization_code::Issued {
                    family_id: first.as_ref().map(|first| first.family_id.as_str()),
                    jti: &signed.jti,
                    access_expires_at,
                };
                if !authorization_code::redeem(tx, code, &issued, now)? {
                    authorization_code::revoke_issued(tx, code, now, source)?;
                    return Ok(Err(IssueWrite::CodeReused));
                }
            }
            let Some(first) = first else {
                return Ok(Ok(None));
            };
            let owner = match &code {
                None => refresh::Owner {
                    client_id: &client.id,
                    org_id: &client.org_id,
                    user_id: None,
                },
                Some(code) => refresh::Owner {
                    client_id: &client.id,
                    org_id: &code.org_id,
                    user_id: Some(&code.user_id),
                },
            };
            let family = refresh::repo::create_family(
                tx,
                owner,
                &scope,
                resource,
                now,
                self.state.issuance.refresh_lifetimes,
                first,
            )?;
            Ok(Ok(Some(family)))
        });
        // A reuse's revocations are committed (`Ok(Err(…))`); a store failure rolls
        // everything back.
        let family = match written.and_then(|outcome| outcome) {
            Ok(family) => family,
            Err(IssueWrite::Store(error)) => {
                self.refusal.record(error);
                return Err(());
            }
            Err(IssueWrite::CodeReused) => {
                self.refusal.record(OAuthError::invalid_grant(
                    "the authorization code is invalid, expired, already used or was issued to another client",
                ));
                return Err(());
            }
        };
        self.issued = Some(IssuedAccessToken {
            access_token: signed.token.clone(),
            expires_in: signed.expires_in,
            scope,
            refresh_token: family.map(|(_, token)| token),
        });
        Ok(IssuedToken {
            token: signed.token,
            refresh: None,
            until: self.until(signed.expires_in),
            token_type: TokenType::Bearer,
        })
    }

    /// refresh_token: spends the presented token and issues its successor (see
    /// `refresh::repo::rotate`), with an access token for the requested — possibly
    /// narrowed — scope. The new refresh token keeps the family's scope (RFC 6749 §6).
    fn refresh(&mut self, presented: &str, grant: Grant) -> Result<RefreshedToken, ()> {
        let client = self.client_for(&grant.client_id)?;
        // Never more than the client may have now (its registration may have narrowed),
        // nor — acting for a person — more than the person's role holds now.
        let requested = ScopeSet::parse(&grant.scope.to_string()).map_err(|_| ())?;
        let person = self
            .recovered
            .borrow()
            .as_ref()
            .and_then(|f| f.user_id.clone().map(|user| (user, f.org_id.clone())));
        let allowed = match &person {
            None => client.allowed_scopes(),
            Some((user_id, org_id)) => {
                let Some(held) = self.person_holds(client, user_id, org_id)? else {
                    self.refuse_refresh(client, Refused::Revoked);
                    return Err(());
                };
                client.allowed_scopes().intersection(&held)
            }
        };
        let scope: Vec<&str> = requested
            .iter()
            .filter(|s| allowed.iter().any(|a| a == *s))
            .collect();
        if scope.is_empty() {
            self.refusal.record(OAuthError::invalid_scope(
                "no requested scope is still allowed for this client",
            ));
            return Err(());
        }
        let scope = scope.join(" ");
        // Decided before the rotation, so a refused resource does not spend the token.
        let aud = {
            let recovered = self.recovered.borrow();
            let family = recovered
                .as_ref()
                .filter(|f| f.client_id == client.id)
                .ok_or(())?;
            self.refreshed_audience(client, family)?
        };
        // Signed before the rotation commits, so a signing failure cannot burn the
        // presented token.
        let subject = match &person {
            None => Subject::client(client),
            Some((user_id, org_id)) => Subject {
                sub: user_id.as_str(),
                org: org_id.as_str(),
            },
        };
        let Signed {
            token, expires_in, ..
        } = self.sign(client, subject, &scope, &aud)?;
        let now = self.now.naive_utc();
        let rotated = {
            let recovered = self.recovered.borrow_mut().take();
            let family = recovered.filter(|f| f.client_id == client.id).ok_or(())?;
            let successor = refresh::generate_token().map_err(|e| self.refusal.record(e))?;
            self.tx
                .borrow_mut()
                .write(|tx| {
                    let rotation = refresh::repo::Rotation {
                        now,
                        lifetimes: self.state.issuance.refresh_lifetimes,
                        grace: client.refresh_reuse_grace(),
                        source: self.source,
                        successor,
                    };
                    refresh::repo::rotate_known(tx, presented, &family, rotation)
                })
                .map_err(|e| self.refusal.record(e))?
        };
        let rotated = rotated.map_err(|refused| self.refuse_refresh(client, refused))?;
        self.issued = Some(IssuedAccessToken {
            access_token: token.clone(),
            expires_in,
            scope,
            refresh_token: Some(rotated.token),
        });
        Ok(RefreshedToken {
            token,
            refresh: None,
            until: self.until(expires_in),
            token_type: TokenType::Bearer,
        })
    }

    fn recover_token(&self, _token: &str) -> Result<Option<Grant>, ()> {
        // Access tokens are JWTs, verified offline; oxide-auth's resource flow is not used.
        Err(())
    }

    /// The grant behind a refresh token, for oxide-auth's checks (same client, scope
    /// not widened). Whether the token is still usable is decided atomically by
    /// `refresh`, so a spent token is recovered here and refused (and its family
    /// revoked) there.
    fn recover_refresh(&self, presented: &str) -> Result<Option<Grant>, ()> {
        if let Some(client) = self.client {
            if !client.allows_grant(GrantType::RefreshToken) {
                self.refusal.record(OAuthError::unauthorized_client(
                    "this client is not registered for the refresh_token grant",
                ));
                return Err(());
            }
        }
        if !crate::identity::presented::is_refresh_token(presented) {
            return Ok(None);
        }
        let found = {
            let mut tx = self.tx.borrow_mut();
            refresh::repo::find(&mut tx, presented)
                .map_err(|e| self.refusal.record(StoreError::from(e)))?
        };
        let Some((row, family)) = found else {
            return Ok(None);
        };
        // Reuse is detected here, before oxide-auth looks at the requested scope.
        if let Some(client) = self.client {
            let now = self.now.naive_utc();
            let mut tx = self.tx.borrow_mut();
            let screening = refresh::repo::screen(
                &mut tx,
                (&row, &family),
                &client.id,
                now,
                client.refresh_reuse_grace(),
            )
            .map_err(|e| self.refusal.record(e))?;
            let refused = match screening {
                Screening::Pass => None,
                Screening::Refuse(refused) => Some(refused),
                Screening::Reused { family_id } => {
                    tx.write(|tx| {
                        refresh::repo::revoke_family(
                            tx,
                            &family_id,
                            now,
                            refresh::repo::REUSE_DETECTED,
                            self.source,
                        )
                    })
                    .map_err(|e| self.refusal.record(StoreError::from(e)))?;
                    Some(Refused::ReuseDetected)
                }
            };
            if let Some(refused) = refused {
                self.refuse_refresh(client, refused);
                return Err(());
            }
        }
        let scope: Scope = family.scope.parse().map_err(|_| ())?;
        *self.recovered.borrow_mut() = Some(family.clone());
        Ok(Some(Grant {
            owner_id: family.client_id.to_string(),
            client_id: family.client_id.into_string(),
            scope,
            redirect_uri: self.state.issuance.issuer.url().clone(),
            // oxide-auth compares this with the wall clock; keygate's own expiry checks
            // (with its injectable clock) happen in `refresh`.
            until: Utc::now() + chrono::Duration::days(1),
            extensions: Extensions::new(),
        }))
    }
}
