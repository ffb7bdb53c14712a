//! Letters keygate sends — an invitation's or a password reset's link — through the
//! operator's SMTP relay, when one is configured (`smtp_url`, `mail_from`); without
//! one keygate sends nothing and the dashboard shows links to pass on instead.
//!
//! The relay's URL is parsed once at load time (`Relay::parse`): `smtps://` is TLS
//! from the first byte (port 465), `smtp://` upgrades with STARTTLS and refuses to go
//! on without it (port 587) — so a password or a link never crosses the network in
//! the clear — and only a relay on a loopback address may be spoken to in plain text
//! (`?tls=none`, for a local MTA or a test sink). Certificates are checked against
//! the system's roots.
//!
//! Sending never blocks a request: `Mailer::send` puts the letter on a bounded queue
//! that one thread delivers from, retrying a failed delivery with back-off for about
//! a minute (a permanent 5xx refusal is not retried). The queue is in memory — a letter queued when the process stops is lost,
//! and the person asks again (a reset) or the inviter passes on the link the page
//! showed. A letter's body holds a secret link, so neither it nor the recipient's
//! address is ever logged.

use std::net::IpAddr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};

/// Letters waiting for the relay at most; past this `send` refuses (`QueueFull`).
const QUEUE_LEN: usize = 256;
/// The waits between delivery attempts of one letter (then it is given up).
const RETRY_WAITS: [Duration; 3] = [
    Duration::from_secs(2),
    Duration::from_secs(10),
    Duration::from_secs(45),
];
/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

/// How keygate talks to the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encryption {
    /// `smtps://`: TLS from the first byte.
    Tls,
    /// `smtp://`: STARTTLS, required.
    StartTls,
    /// `smtp://…?tls=none`, loopback only: a local relay.
    None,
}

/// The operator's relay, from `smtp_url`.
#[derive(Clone)]
pub struct Relay {
    pub host: String,
    pub port: u16,
    pub encryption: Encryption,
    credentials: Option<(String, String)>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("encryption", &self.encryption)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Relay {
    /// `smtps://[user:password@]host[:port]`, `smtp://[user:password@]host[:port]`
    /// or `smtp://loopback[:port]?tls=none`. The message names what is wrong and
    /// never repeats the URL (it may hold a password).
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = url::Url::parse(text)
            .map_err(|_| "not a URL; expected smtps://user:password@host:465".to_owned())?;
        let host = match url.host() {
            Some(url::Host::Domain(name)) => name.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err("names no host".into()),
        };
        let plain_asked = match url.query() {
            None => false,
            Some("tls=none") => true,
            Some(_) => return Err("the only query it takes is ?tls=none (loopback relays)".into()),
        };
        let encryption = match (url.scheme(), plain_asked) {
            ("smtps", false) => Encryption::Tls,
            ("smtp", false) => Encryption::StartTls,
            ("smtp", true) if is_loopback(&host) => Encryption::None,
            ("smtp", true) => {
                return Err(
                    "?tls=none is allowed only for a relay on a loopback address: \
                     elsewhere links and passwords would cross the network in the clear"
                        .into(),
                )
            }
            ("smtps", true) => return Err("smtps:// is TLS; ?tls=none contradicts it".into()),
            _ => return Err("the scheme must be smtps:// or smtp://".into()),
        };
        if !url.path().is_empty() && url.path() != "/" {
            return Err("takes no path".into());
        }
        let port = url.port().unwrap_or(match encryption {
            Encryption::Tls => 465,
            Encryption::StartTls => 587,
            Encryption::None => 25,
        });
        let decode = |part: &str| {
            percent_encoding::percent_decode_str(part)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| "its user name and password must be UTF-8".to_owned())
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, Some(password)) if !user.is_empty() => Some((decode(user)?, decode(password)?)),
            _ => return Err("a user name needs a password (user:password@host)".into()),
        };
        Ok(Self {
            host,
            port,
            encryption,
            credentials,
        })
    }

    fn transport(&self) -> Result<SmtpTransport, lettre::transport::smtp::Error> {
        let builder = match self.encryption {
            Encryption::Tls => SmtpTransport::relay(&self.host)?,
            Encryption::StartTls => SmtpTransport::starttls_relay(&self.host)?,
            Encryption::None => SmtpTransport::builder_dangerous(&self.host),
        };
        let builder = builder.port(self.port).timeout(Some(SMTP_TIMEOUT));
        let builder = match &self.credentials {
            Some((user, password)) => {
                builder.credentials(Credentials::new(user.clone(), password.clone()))
            }
            None => builder,
        };
        Ok(builder.build())
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `mail_from`: `keygate <no-reply@example.com>` or a bare address.
pub fn parse_from(text: &str) -> Result<Mailbox, String> {
    text.parse::<Mailbox>()
        .map_err(|_| "expected an address like 'keygate <no-reply@example.com>'".to_owned())
}

/// One letter: plain text, to one person.
pub struct Letter {
    pub to: String,
    pub subject: String,
    /// Holds a secret link: never logged.
    pub body: String,
}

impl std::fmt::Debug for Letter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Letter")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Why a letter was not queued.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("no SMTP relay is configured")]
    Off,
    #[error("the mail queue is full")]
    QueueFull,
    #[error("the recipient is not a mail address")]
    BadRecipient,
}

/// The process's mail queue (`off` without a relay). Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    queue: Option<SyncSender<Message>>,
    from: Option<Mailbox>,
}

impl Mailer {
    /// Sends nothing: `send` says `Off`.
    pub fn off() -> Self {
        Self {
            queue: None,
            from: None,
        }
    }

    /// Starts the delivery thread for `relay`, sending as `from`.
    pub fn start(relay: Relay, from: Mailbox) -> std::io::Result<Self> {
        let (queue, letters) = sync_channel(QUEUE_LEN);
        std::thread::Builder::new()
            .name("keygate-mail".into())
            .spawn(move || deliver_all(&relay, letters))?;
        Ok(Self {
            queue: Some(queue),
            from: Some(from),
        })
    }

    /// Whether letters go out (a relay is configured).
    pub fn is_on(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues `letter`; delivery happens on the mail thread.
    pub fn send(&self, letter: Letter) -> Result<(), MailError> {
        let (Some(queue), Some(from)) = (&self.queue, &self.from) else {
            return Err(MailError::Off);
        };
        let to = letter
            .to
            .parse::<Mailbox>()
            .map_err(|_| MailError::BadRecipient)?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(letter.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(letter.body)
            .map_err(|_| MailError::BadRecipient)?;
        queue.try_send(message).map_err(|error| match error {
            TrySendError::Full(_) => MailError::QueueFull,
            TrySendError::Disconnected(_) => MailError::Off,
        })
    }
}

/// The mail thread: delivers each letter, retrying with back-off; ends when every
/// `Mailer` is gone.
fn deliver_all(relay: &Relay, letters: Receiver<Message>) {
    let transport = match relay.transport() {
        Ok(transport) => transport,
        Err(error) => {
            tracing::error!(%error, host = %relay.host, "the SMTP relay cannot be used; no mail will be sent");
            return;
        }
    };
    for message in letters {
        let mut waits = RETRY_WAITS.iter();
        loop {
            match transport.send(&message) {
                Ok(_) => {
                    tracing::debug!("a letter was handed to the SMTP relay");
                    break;
                }
                // A relay's reply often repeats the recipient's address, so only its
                // code is logged. A permanent refusal (5xx: no such mailbox) is not
                // retried: it would hold every letter queued behind it.
                Err(error) if error.is_permanent() => {
                    tracing::warn!(code = ?error.status().map(|c| c.to_string()),
                        "the SMTP relay refused a letter for good");
                    break;
                }
                Err(error) => match waits.next() {
                    Some(wait) => {
                        tracing::warn!(code = ?error.status().map(|c| c.to_string()),
                            kind = failure_kind(&error), retry_in = ?wait,
                            "the SMTP relay did not take a letter");
                        std::thread::sleep(*wait);
                    }
                    None => {
                        tracing::error!(code = ?error.status().map(|c| c.to_string()),
                            kind = failure_kind(&error),
                            "a letter was given up after repeated SMTP failures");
                        break;
                    }
                },
            }
        }
    }
}

/// What kind of failure, without the relay's words.
fn failure_kind(error: &lettre::transport::smtp::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_transient() {
        "transient refusal"
    } else if error.is_tls() {
        "tls"
    } else {
        "connection or protocol"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtps_is_tls_on_465_and_smtp_is_required_starttls_on_587() {
        let relay = Relay::parse("smtps://me:p%40ss@mail.example.com").unwrap();
        assert_eq!(
            (relay.encryption, relay.port, relay.host.as_str()),
            (Encryption::Tls, 465, "mail.example.com")
        );
        assert_eq!(
            relay.credentials,
            Some(("me".to_owned(), "p@ss".to_owned()))
        );
        let relay = Relay::parse("smtp://mail.example.com").unwrap();
        assert_eq!((relay.encryption, relay.port), (Encryption::StartTls, 587));
        assert_eq!(relay.credentials, None);
        let relay = Relay::parse("smtp://mail.example.com:2587").unwrap();
        assert_eq!(relay.port, 2587);
    }

    #[test]
    fn plain_text_only_to_loopback() {
        for loopback in [
            "smtp://127.0.0.1:2525?tls=none",
            "smtp://localhost?tls=none",
            "smtp://[::1]:25?tls=none",
        ] {
            let relay = Relay::parse(loopback).unwrap();
            assert_eq!(relay.encryption, Encryption::None, "{loopback}");
        }
        for remote in [
            "smtp://mail.example.com?tls=none",
            "smtp://10.0.0.5:25?tls=none",
        ] {
            let refused = Relay::parse(remote).unwrap_err();
            assert!(refused.contains("loopback"), "{remote}: {refused}");
        }
    }

    #[test]
    fn refusals_name_the_problem_and_never_the_password() {
        for (url, expected) in [
            ("mail.example.com", "not a URL"),
            ("https://mail.example.com", "scheme"),
            ("smtps://mail.example.com?tls=none", "contradicts"),
            ("smtp://mail.example.com?tls=maybe", "query"),
            ("smtp://mail.example.com/inbox", "path"),
            ("smtp://me@mail.example.com", "password"),
        ] {
            let refused = Relay::parse(url).unwrap_err();
            assert!(refused.contains(expected), "{url}: {refused}");
        }
        let relay = Relay::parse("smtps://me:hunter2hunter2@mail.example.com").unwrap();
        assert!(!format!("{relay:?}").contains("hunter2"));
    }

    #[test]
    fn from_takes_a_name_and_an_address() {
        assert!(parse_from("keygate <no-reply@example.com>").is_ok());
        assert!(parse_from("no-reply@example.com").is_ok());
        assert!(parse_from("no reply").is_err());
    }

    #[test]
    fn a_letter_is_refused_without_a_relay_and_its_debug_hides_the_body() {
        let letter = Letter {
            to: "a@example.com".into(),
            subject: "Reset".into(),
            body: "https://keygate.test/setup#kgut_secret".into(),
        };
        assert!(!format!("{letter:?}").contains("kgut_secret"));
        assert!(matches!(Mailer::off().send(letter), Err(MailError::Off)));
    }
}
