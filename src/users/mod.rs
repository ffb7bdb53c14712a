//! People: accounts (one per email, global), their memberships of organizations with
//! a role (`owner`, `admin`, `developer`, `viewer` — what each may do is the one table
//! in `model::Role`), passwords (`password`: NIST SP 800-63B rules, argon2id), sign-in
//! through the process's argon2 budget (`sign_in`), sessions with their CSRF token
//! (`session`), one-time setup links, and the use cases every door calls, each with
//! its audit event (`service`). The SQL is `repo`'s; what the CLI shows is `view`'s.
//! A person's own account (password change, their sessions) is `account`'s; their
//! TOTP second factor and recovery codes `second_factor`'s, its secret sealed at rest
//! by `sealing`. What is mailed to people (an invitation, a reset link) is
//! `letters`'s. Membership changes (invite, change role, remove) are `members`'s; their one route
//! family, `/v1/members`, is `handlers`'s. The dashboard (`web`) calls the same.

pub mod account;
pub mod handlers;
pub mod letters;
pub mod members;
pub mod model;
pub mod password;
pub mod repo;
pub mod sealing;
pub mod second_factor;
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
pub use view::{MemberView, UserView};
