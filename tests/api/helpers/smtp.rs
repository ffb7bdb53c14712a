//! A mail relay on loopback that keeps every letter keygate hands it: enough of SMTP
//! (RFC 5321: greeting, EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP,
//! QUIT) for a real client — keygate's, lettre — to deliver to it in plain text,
//! which keygate allows only to a loopback relay (`?tls=none`).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One letter as the relay took it.
#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body, as sent (CRLF line ends, dots unstuffed).
    pub data: String,
}

impl Received {
    /// The value of header `name` (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut lines = head.split("\r\n").peekable();
        while let Some(line) = lines.next() {
            if line.to_ascii_lowercase().starts_with(&prefix) {
                let mut value = line[prefix.len()..].trim().to_owned();
                while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                    value.push(' ');
                    value.push_str(next.trim());
                    lines.next();
                }
                return Some(value);
            }
        }
        None
    }

    /// The body (after the blank line), decoded as a mail reader would: a long line
    /// (a long link) makes the sender choose quoted-printable (RFC 2045 §6.7).
    pub fn body(&self) -> String {
        let raw = self
            .data
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body);
        let encoding = self.header("Content-Transfer-Encoding").unwrap_or_default();
        if !encoding.eq_ignore_ascii_case("quoted-printable") {
            return raw.to_owned();
        }
        let unfolded = raw.replace("=\r\n", "");
        let mut bytes = Vec::new();
        let mut rest = unfolded.as_bytes();
        while let Some((&first, tail)) = rest.split_first() {
            let hex = tail.get(..2).and_then(|h| std::str::from_utf8(h).ok());
            match (first, hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                (b'=', Some(byte)) => {
                    bytes.push(byte);
                    rest = &tail[2..];
                }
                _ => {
                    bytes.push(first);
                    rest = tail;
                }
            }
        }
        String::from_utf8(bytes).unwrap()
    }

    /// The first `{base}/setup#…` link in the body: its token.
    pub fn setup_token(&self) -> String {
        let body = self.body();
        let start = body
            .find("/setup#")
            .unwrap_or_else(|| panic!("a set-up link in {body}"))
            + "/setup#".len();
        body[start..]
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap()
            .to_owned()
    }
}

pub struct MailSink {
    pub port: u16,
    letters: Arc<Mutex<Vec<Received>>>,
}

impl MailSink {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let letters = Arc::new(Mutex::new(Vec::new()));
        let kept = letters.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = kept.clone();
                std::thread::spawn(move || converse(stream, &kept));
            }
        });
        Self { port, letters }
    }

    /// The `smtp_url` that points keygate here.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    pub fn letters(&self) -> Vec<Received> {
        self.letters.lock().unwrap().clone()
    }

    /// The letters to `to`, once there are `count` of them (10 s at most).
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let letters: Vec<Received> = self
                .letters()
                .into_iter()
                .filter(|l| l.to.iter().any(|t| t == to))
                .collect();
            if letters.len() >= count || Instant::now() > deadline {
                assert_eq!(letters.len(), count, "letters to {to}: {letters:?}");
                return letters;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits long enough for a letter that should not come to have come, then
    /// returns how many letters went to `to`.
    pub async fn count_after_a_while(&self, to: &str) -> usize {
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        self.letters()
            .iter()
            .filter(|l| l.to.iter().any(|t| t == to))
            .count()
    }
}

fn converse(stream: TcpStream, letters: &Mutex<Vec<Received>>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut say = |text: &str| writer.write_all(text.as_bytes()).is_ok();
    if !say("220 sink.test ESMTP\r\n") {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let ok = if upper.starts_with("EHLO") {
            say("250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            say("250 ok\r\n")
        } else if upper.starts_with("RSET") {
            (from, to) = (String::new(), Vec::new());
            say("250 ok\r\n")
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&command["MAIL FROM:".len()..]);
            say("250 ok\r\n")
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&command["RCPT TO:".len()..]));
            say("250 ok\r\n")
        } else if upper == "DATA" {
            if !say("354 end with .\r\n") {
                return;
            }
            let mut data = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            letters.lock().unwrap().push(Received {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            say("250 kept\r\n")
        } else if upper == "QUIT" {
            say("221 bye\r\n");
            return;
        } else {
            say("502 not here\r\n")
        };
        if !ok {
            return;
        }
    }
}

/// `<a@b.c> SIZE=…` → `a@b.c`.
fn address(text: &str) -> String {
    let text = text.trim();
    let inner = text
        .strip_prefix('<')
        .and_then(|t| t.split_once('>'))
        .map_or(text, |(a, _)| a);
    inner.to_owned()
}
