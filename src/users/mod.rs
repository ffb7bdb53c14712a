//! People: accounts (one per email, global), their memberships of organizations with
//! a role (`owner`, `admin`, `developer`, `viewer` — what each may do is the one table
//! in `model::Role`), passwords (`password`: NIST SP 800-63B rules, argon2id), sign-in
//! through the process's argon2 budget (`sign_in`), sessions with their CSRF token
//! (`session`), one-time setup links, and the use cases every door calls, each with
//! its audit event (`service`). The SQL is `repo`'s; what the CLI shows is `view`'s.
//! No HTTP routes here: the dashboard (`web`) calls these.

pub mod model;
pub mod password;
pub mod repo;
pub mod service;
pub mod session;
pub mod sign_in;
pub mod totp;
pub mod view;

pub use model::{Membership, NewUser, Purpose, Role, User, UserSession, UserToken};
pub use password::PasswordError;
pub use service::UserError;
pub use session::ActiveSession;
pub use sign_in::{SignInError, SignInOptions, SignedIn};
pub use view::UserView;
