//! keygate: an OAuth 2.0 authorization server with API-key fallback.
//!
//! Modules are by domain; each HTTP domain exposes `configure` for `startup`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod api;
pub mod api_keys;
pub mod argon2_budget;
pub mod audit;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod consents;
pub mod error;
pub mod health;
pub mod identity;
pub mod ids;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod oauth;
pub mod openapi;
pub mod orgs;
pub mod refresh;
pub mod routes;
pub mod scope;
pub mod secret;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod usage;
pub mod users;
pub mod web;
