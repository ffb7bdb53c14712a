//! The letters keygate mails people (through `mail::Mailer`, when a relay is
//! configured): an invitation to an organization — with the set-up link when the
//! person has no password yet — and a password-reset link asked for on the sign-in
//! page. Plain text, sent 7bit or — when a long link passes 76 characters, or an
//! organization's name is not ASCII — quoted-printable, which every mail reader
//! decodes; the link is the only secret, in its fragment (`service::setup_url`).

use super::members::Invitation;
use super::service::{setup_url, RESET_TOKEN_LIFETIME, SETUP_TOKEN_LIFETIME};
use crate::mail::{Letter, MailError, Mailer};
use crate::secret::Secret;

/// Mails `invited` their invitation, when keygate has a relay: `None` without one,
/// else whether the letter was queued (a failure is logged). Every door that invites
/// (the dashboard, `/v1/members`) calls this after the invitation committed.
pub fn mail_invitation(mailer: &Mailer, invited: &Invitation, issuer_base: &str) -> Option<bool> {
    mailer.is_on().then(|| {
        send_invitation(mailer, invited, issuer_base)
            .inspect_err(|error| tracing::warn!(%error, "an invitation could not be mailed"))
            .is_ok()
    })
}

fn send_invitation(
    mailer: &Mailer,
    invited: &Invitation,
    issuer_base: &str,
) -> Result<(), MailError> {
    let org = &invited.org_name;
    let role = invited.membership.role().as_str();
    let next_step = match &invited.setup_token {
        Some(token) => format!(
            "Choose your password here; the link works once, for {} hours:\n\n{}\n",
            SETUP_TOKEN_LIFETIME.num_hours(),
            setup_url(issuer_base, token)
        ),
        None => format!(
            "Sign in as you do today:\n\n{}/sign-in\n",
            issuer_base.trim_end_matches('/')
        ),
    };
    mailer.send(Letter {
        to: invited.user.email.clone(),
        subject: format!("You are invited to {org}"),
        body: format!(
            "You are now a member of {org}, as {role}.\n\n{next_step}\n\
             If you did not expect this, you can ignore this letter.\n"
        ),
    })
}

/// Mails `email` the password-reset link `token`.
pub fn send_password_reset(
    mailer: &Mailer,
    email: &str,
    token: &Secret,
    issuer_base: &str,
) -> Result<(), MailError> {
    mailer.send(Letter {
        to: email.to_owned(),
        subject: "Reset your password".into(),
        body: format!(
            "Someone (we hope you) asked to reset the password of {email}.\n\n\
             Choose a new password here; the link works once, for {} minutes:\n\n{}\n\n\
             If it was not you, ignore this letter: your password stays as it is.\n",
            RESET_TOKEN_LIFETIME.num_minutes(),
            setup_url(issuer_base, token)
        ),
    })
}
