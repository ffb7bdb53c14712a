//! The client use cases — register, update, replace a registration (RFC 7592),
//! disable, rotate the secret, find — for every door: `/v1/clients`, RFC 7591/7592,
//! the CLI and the tests. Each change takes the connection of the caller's store turn
//! (`Store::write`), the actor, validated input and `now`, and commits with its audit
//! event in one transaction or not at all. What the actor may do is
//! `identity::authority`'s; which clients it sees is its organization's
//! (`Actor::org_id`): another organization's client is `NotFound`.
//!
//! argon2 stays out of every transaction: a new secret is hashed (~20 ms) before the
//! turn that stores it — `ClientDraft::prepare` for a registration, `new_secret` for a
//! rotation — with no connection held (inside `Store::blocking`, before its `write`).

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::Connection;

use super::model::{
    Client, ClientChanges, ClientRegistration, ClientUpdate, NewClient, RegistrationError,
    ValidRegistration,
};
use super::repo;
use super::secret::{self, ClientSecret, StoredSecret};
use crate::argon2_budget::HashError;
use crate::audit::{self, Change, Via};
use crate::config::CredentialPolicy;
use crate::identity::authority::{Actor, AuthorityError, Holdings};
use crate::ids::{ClientId, OrgId};
use crate::secret::{RandomError, Secret};
use crate::store::{DbConn, StoreError};
use crate::tokens::TokenKind;

/// Longest a replaced client secret keeps working beside the new one.
pub const MAX_SECRET_OVERLAP: Duration = Duration::from_secs(30 * 24 * 3600);

/// Why a use case refused or failed. Each error shape maps it in its own file.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The metadata does not validate.
    #[error(transparent)]
    Invalid(#[from] RegistrationError),
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    /// RFC 7592: a registration access token may narrow what was registered, never
    /// widen it. Names the RFC 7591 member at fault.
    #[error("{0} may only be narrowed through the registration access token")]
    Widening(&'static str),
    #[error("overlap must be at most 30 days")]
    Overlap,
    /// No such client — or one of an organization the actor does not see.
    #[error("no such client")]
    NotFound,
    /// The client is disabled, or changed meanwhile.
    #[error("{0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ClientError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(error.into())
    }
}

/// A client and the credentials just issued for it, which exist nowhere else: show
/// them once.
pub struct IssuedClient {
    pub client: Client,
    /// `None` for a public client, which has no secret.
    pub secret: Option<ClientSecret>,
    /// RFC 7591's registration access token, for a client registered through it.
    pub registration_token: Option<Secret>,
}

/// The client `id` if the actor sees it.
pub fn find(conn: &mut DbConn, actor: &Actor, id: &ClientId) -> Result<Option<Client>, StoreError> {
    if !TokenKind::ClientId.is_id(id.as_str()) {
        return Ok(None);
    }
    let found = match actor.org_id() {
        Some(org_id) => repo::find_in_org(conn, org_id, id)?,
        None => repo::find_in_any_org(conn, id)?,
    };
    Ok(found)
}

fn find_visible(conn: &mut DbConn, actor: &Actor, id: &ClientId) -> Result<Client, ClientError> {
    find(conn, actor, id)?.ok_or(ClientError::NotFound)
}

/// A registration the actor may make — validated, within the actor's bounds — whose
/// secret does not exist yet (`prepare`).
#[derive(Debug)]
pub struct ClientDraft {
    valid: ValidRegistration,
    secret_expires_at: Option<NaiveDateTime>,
    via: Option<Via>,
}

/// A draft with its id and its secret, hashed: what `register` inserts.
pub struct PreparedClient {
    new: NewClient,
    secret: Option<ClientSecret>,
    via: Option<Via>,
}

/// Checks a registration in `org_id` against the server's limits and the actor's
/// own: a credential never registers a client stronger than itself — no scope
/// beyond its own, a secret that expires with its credential, and no looser rate
/// allowance (a client that names none, as RFC 7591 metadata never does, gets the
/// caller's own). `via`: `Some(Via::Rfc7591)` for RFC 7591, whose client gets a
/// registration access token; `None` for `/v1/clients` and the CLI.
pub fn draft(
    actor: &Actor,
    org_id: &OrgId,
    registration: ClientRegistration,
    policy: &CredentialPolicy,
    via: Option<Via>,
) -> Result<ClientDraft, ClientError> {
    if !actor.sees(org_id) {
        return Err(ClientError::NotFound);
    }
    let rate_limit_per_minute = actor
        .cap_rate_limit(Some(registration.rate_limit_per_minute))?
        .flatten();
    let registration = ClientRegistration {
        rate_limit_per_minute,
        ..registration
    };
    let valid = validate(registration, org_id, policy)?;
    actor.check_scopes(valid.allowed_scopes())?;
    Ok(ClientDraft {
        valid,
        secret_expires_at: actor.lifetime(),
        via,
    })
}

fn validate(
    registration: ClientRegistration,
    org_id: &OrgId,
    policy: &CredentialPolicy,
) -> Result<ValidRegistration, RegistrationError> {
    registration.validate(org_id.clone(), &policy.known_scopes, policy.max_token_ttl)
}

impl ClientDraft {
    /// A new id and a new secret, hashed with argon2id (~20 ms): call it with no
    /// connection held.
    /// A public client gets no secret: its stored hash stays empty, which no
    /// presented secret verifies against.
    pub fn prepare(self, now: NaiveDateTime) -> Result<PreparedClient, ClientError> {
        if self.valid.is_public() {
            let new = self
                .valid
                .into_new_client(ClientId::generate(), String::new(), now);
            return Ok(PreparedClient {
                new,
                secret: None,
                via: self.via,
            });
        }
        let NewSecret { secret, stored } = new_secret()?;
        let mut new = self
            .valid
            .into_new_client(ClientId::generate(), stored.hash, now);
        new.secret_hint = Some(stored.hint);
        new.secret_expires_at = self.secret_expires_at;
        Ok(PreparedClient {
            new,
            secret: Some(secret),
            via: self.via,
        })
    }
}

/// Registers the prepared client (see `draft`); its secret and, for RFC 7591, its
/// registration access token are in the result, shown once.
pub fn register(
    conn: &mut DbConn,
    actor: &Actor,
    prepared: PreparedClient,
    now: NaiveDateTime,
) -> Result<IssuedClient, ClientError> {
    let PreparedClient {
        mut new,
        secret,
        via,
    } = prepared;
    if !actor.sees(&new.org_id) {
        return Err(ClientError::NotFound);
    }
    let registration_token = match via {
        Some(Via::Rfc7591) => {
            let (token, hash) = secret::new_registration_token()?;
            new.registration_token_hash = Some(hash);
            Some(token)
        }
        Some(Via::Rfc7592) | None => None,
    };
    let client = conn.transaction(|c| {
        let client = repo::create(c, &new)?;
        let change = Change::ClientRegistered {
            name: &client.name,
            scope: &client.allowed_scopes,
            via,
        };
        audit::repo::record(c, &client, actor.by(), change, now)?;
        Ok::<_, ClientError>(client)
    })?;
    Ok(IssuedClient {
        client,
        secret,
        registration_token,
    })
}

/// Changes a live client's metadata (`PATCH /v1/clients/{id}`): the update is merged
/// into the registration (`ClientUpdate::merged_into`) and validated as a whole,
/// within the actor's scopes and rate allowance. Tokens already issued keep their
/// scope until they expire; refresh grants are capped to the scopes registered now.
pub fn update(
    conn: &mut DbConn,
    actor: &Actor,
    id: &ClientId,
    update: ClientUpdate,
    policy: &CredentialPolicy,
    now: NaiveDateTime,
) -> Result<Client, ClientError> {
    conn.transaction(|c| {
        let client = find_visible(c, actor, id)?;
        if client.is_disabled() {
            return Err(ClientError::Conflict("the client is disabled"));
        }
        let rate_limit_per_minute = actor.cap_rate_limit(update.rate_limit_per_minute)?;
        let registration = ClientUpdate {
            rate_limit_per_minute,
            ..update
        }
        .merged_into(&client);
        let valid = validate(registration, &client.org_id, policy)?;
        if valid.is_public() != client.is_public() {
            return Err(RegistrationError::PublicChange.into());
        }
        actor.check_scopes(valid.allowed_scopes())?;
        let updated =
            repo::update(c, &client, &valid.into_changes(now))?.ok_or(ClientError::Conflict(
                "the client was disabled or changed meanwhile; read it again and retry",
            ))?;
        let change = Change::ClientUpdated {
            diff: updated.changes_from(&client),
            via: None,
        };
        audit::repo::record(c, &updated, actor.by(), change, now)?;
        Ok(updated)
    })
}

/// An RFC 7592 replacement of a client's metadata that keeps to the registration
/// access token's rules (see `replacement`).
pub struct Replacement {
    client: Client,
    changes: ClientChanges,
}

impl Replacement {
    /// The client as it was read.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Checks RFC 7592 metadata replacing `client`'s. The registration access token is
/// no admin credential: it may narrow the scope and the audiences, never widen them.
/// What RFC 7591 metadata does not carry — the lifetime, the reuse grace, the rate
/// limit, and the audiences unless `names_audiences` — is kept as registered
/// (removing the audiences would widen the client to `server_default`).
pub fn replacement(
    client: Client,
    registration: ClientRegistration,
    names_audiences: bool,
    policy: &CredentialPolicy,
    server_default: &str,
    now: NaiveDateTime,
) -> Result<Replacement, ClientError> {
    let valid = validate(registration, &client.org_id, policy)?;
    if valid.is_public() != client.is_public() {
        return Err(RegistrationError::PublicChange.into());
    }
    if !valid
        .allowed_scopes()
        .is_subset_of(&client.allowed_scopes())
    {
        return Err(ClientError::Widening("scope"));
    }
    let current = client.audiences(server_default);
    if names_audiences
        && !valid
            .audiences(server_default)
            .iter()
            .all(|audience| current.contains(audience))
    {
        return Err(ClientError::Widening("keygate_audiences"));
    }
    let mut changes = valid.into_changes(now);
    if !names_audiences {
        changes.audience = client.audience.clone();
        changes.audiences = client.audiences.clone();
    }
    changes.access_token_ttl_secs = client.access_token_ttl_secs;
    changes.refresh_reuse_grace_secs = client.refresh_reuse_grace_secs;
    changes.rate_limit_per_minute = client.rate_limit_per_minute;
    Ok(Replacement { client, changes })
}

/// Replaces the metadata (RFC 7592 §2.2) and the registration access token, whose
/// successor is in the result, shown once: every RFC 7592 answer carries a new one.
pub fn replace_registration(
    conn: &mut DbConn,
    actor: &Actor,
    replacement: Replacement,
    now: NaiveDateTime,
) -> Result<(Client, Secret), ClientError> {
    let Replacement { client, changes } = replacement;
    if !actor.sees(&client.org_id) {
        return Err(ClientError::NotFound);
    }
    let (token, hash) = secret::new_registration_token()?;
    conn.transaction(|c| {
        let updated = repo::update_registration(c, &client, &changes, &hash)?.ok_or(
            ClientError::Conflict("the registration changed meanwhile; read it again and retry"),
        )?;
        let change = Change::ClientUpdated {
            diff: updated.changes_from(&client),
            via: Some(Via::Rfc7592),
        };
        audit::repo::record(c, &updated, actor.by(), change, now)?;
        Ok((updated, token))
    })
}

/// Disables the client: its secret stops working at once and its refresh-token
/// families are revoked; through RFC 7592 (`via`), its registration access token
/// stops working too. Disabling a disabled client changes nothing and records
/// nothing.
pub fn disable(
    conn: &mut DbConn,
    actor: &Actor,
    id: &ClientId,
    via: Option<Via>,
    now: NaiveDateTime,
) -> Result<Client, ClientError> {
    conn.transaction(|c| {
        let client = find_visible(c, actor, id)?;
        let now_disabled = match via {
            Some(Via::Rfc7592) => repo::delete_registration(c, &client.id, now)?,
            Some(Via::Rfc7591) | None => repo::disable(c, &client.id, now)?,
        };
        let disabled = repo::find_in_any_org(c, &client.id)?.ok_or(ClientError::NotFound)?;
        // Recorded once: by the call that disabled it.
        if now_disabled {
            let change = Change::ClientDisabled {
                name: &disabled.name,
                via,
            };
            audit::repo::record(c, &disabled, actor.by(), change, now)?;
        }
        Ok(disabled)
    })
}

/// How long a replaced secret keeps working beside its successor: at most
/// `MAX_SECRET_OVERLAP` (zero: it stops at once).
#[derive(Clone, Copy, Debug)]
pub struct SecretOverlap(Option<chrono::Duration>);

impl SecretOverlap {
    pub fn new(overlap: Duration) -> Result<Self, ClientError> {
        if overlap > MAX_SECRET_OVERLAP {
            return Err(ClientError::Overlap);
        }
        let overlap = chrono::Duration::from_std(overlap).map_err(|_| ClientError::Overlap)?;
        Ok(Self((!overlap.is_zero()).then_some(overlap)))
    }
}

/// A new client secret and what is stored of it, hashed (~20 ms): made with no
/// connection held, before the turn of `rotate_secret`.
pub struct NewSecret {
    secret: ClientSecret,
    stored: StoredSecret,
}

pub fn new_secret() -> Result<NewSecret, ClientError> {
    let secret = secret::generate_secret()?;
    let stored = StoredSecret::of(&secret)?;
    Ok(NewSecret { secret, stored })
}

/// Gives the client `new` as its secret, shown once in the result; the old secret
/// keeps working for `overlap`. Rotating again during an overlap ends the older
/// secret at once: there is at most one previous secret. Only for an actor that could
/// have registered the client: the new secret can obtain every scope of the client
/// and inherits its lifetime and rate limit.
pub fn rotate_secret(
    conn: &mut DbConn,
    actor: &Actor,
    id: &ClientId,
    overlap: SecretOverlap,
    new: NewSecret,
    now: NaiveDateTime,
) -> Result<IssuedClient, ClientError> {
    let NewSecret { secret, stored } = new;
    conn.transaction(|c| {
        let client = find_visible(c, actor, id)?;
        if client.is_public() {
            return Err(ClientError::Conflict(
                "a public client (token_endpoint_auth_method none) has no secret to rotate",
            ));
        }
        actor.may_rotate(
            "client",
            Holdings {
                scopes: &client.allowed_scopes(),
                expires_at: client.secret_expires_at,
                rate_limit: client.rate_limit_per_minute,
            },
        )?;
        let previous_until = overlap.0.map(|overlap| now + overlap);
        let rotated = repo::rotate_secret(c, &client, &stored, previous_until, now)?.ok_or(
            ClientError::Conflict("the client was disabled or its secret rotated meanwhile"),
        )?;
        let change = Change::ClientSecretRotated {
            previous_secret_expires_at: previous_until,
        };
        audit::repo::record(c, &rotated, actor.by(), change, now)?;
        Ok(IssuedClient {
            client: rotated,
            secret: Some(secret),
            registration_token: None,
        })
    })
}
