//! keygate's integration tests: the real app over HTTP, on SQLite by default and on
//! PostgreSQL when `KEYGATE_TEST_DATABASE_URL` is set (each test gets its own database).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod account;
mod api_keys;
mod audit;
mod auth_methods;
mod authority;
mod authorization_code;
mod authorize_browser;
mod binary;
mod clients;
mod dashboard;
mod dashboard_apps;
mod dashboard_audit;
mod faults;
mod forward_auth;
mod helpers;
mod hostile;
mod identity;
mod instances;
mod json_requests;
mod key_policy;
mod key_rotation;
mod limits;
mod mail;
mod members;
mod metadata;
mod methods;
mod migrations;
mod operations;
mod org_settings;
mod people;
mod refresh;
mod registration;
mod resources;
mod revocation;
mod storms;
mod token;
mod token_errors;
mod usage;
