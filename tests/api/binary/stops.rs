//! How the process ends: a graceful stop (SIGTERM) finishes the requests in flight
//! and writes the usage counted since the last flush; `kill -9` in a refresh storm
//! leaves every family consistent and a restarted server carries on.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::helpers::db;
use crate::helpers::process::{blocking_http, Installation};
use crate::helpers::{basic_auth, TestKey};

#[test]
fn a_graceful_stop_writes_the_usage_counted_since_the_last_flush() {
    let kg = Installation::new();
    let TestKey { id, key } = kg.api_key(&["--name", "m", "--scope", "read"]);
    // Far longer than the test: only the stop can write the counts.
    let server = kg.serve(&[("KEYGATE_USAGE_FLUSH_INTERVAL", "1h")]);
    for _ in 0..3 {
        let (status, _) = server.get("/v1/me", &[("X-API-Key", &key)]);
        assert_eq!(status, 200);
    }
    // A request still arriving when the stop comes is finished, not cut off: send its
    // headers, stop the server, then send its body.
    let mut in_flight =
        std::net::TcpStream::connect(server.address.trim_start_matches("http://")).unwrap();
    let body = "grant_type=client_credentials";
    {
        use std::io::Write;
        write!(
            in_flight,
            "POST /oauth/token HTTP/1.1\r\nHost: keygate\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
    }
    std::thread::sleep(Duration::from_millis(200));
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(300));
    {
        use std::io::{Read, Write};
        in_flight.write_all(body.as_bytes()).unwrap();
        let mut answer = String::new();
        in_flight.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 401"),
            "answered after the stop began: {answer}"
        );
    }
    let (ok, log) = server.terminate();
    assert!(ok, "a graceful stop exits 0:\n{log}");
    assert_eq!(db::requests_counted(&kg.db.store(), &id), 3);
}

/// One refresh chain against `address` until the process is gone: (its last token,
/// how many rotations it made). Anything but a 200 before the kill fails the test.
fn refresh_until_killed(address: &str, auth: &str, killed: &AtomicBool) -> (Option<String>, usize) {
    let http = blocking_http();
    let mut token: Option<String> = None;
    let mut rotations = 0;
    loop {
        let form: Vec<(&str, &str)> = match &token {
            Some(t) => vec![("grant_type", "refresh_token"), ("refresh_token", t)],
            None => vec![("grant_type", "client_credentials")],
        };
        let sent = http
            .post(format!("{address}/oauth/token"))
            .header("Authorization", auth)
            .form(&form)
            .send()
            .and_then(|r| Ok((r.status().as_u16(), r.text()?)));
        match sent {
            Ok((200, body)) => {
                let json: serde_json::Value = serde_json::from_str(&body).unwrap();
                token = Some(json["refresh_token"].as_str().unwrap().to_owned());
                rotations += 1;
            }
            Ok((status, body)) => panic!("before the kill: {status} {body}"),
            // The process is gone.
            Err(_) => {
                assert!(killed.load(Ordering::SeqCst));
                return (token, rotations);
            }
        }
    }
}

/// `kill -9` in the middle of a refresh storm: the database must be consistent — every
/// family with at most one live token — and the restarted server must carry on, each
/// chain's last received token either working or (its rotation committed but the
/// answer lost with the process) refused as reuse, never a 500.
#[test]
fn kill_9_in_a_refresh_storm_leaves_every_family_consistent() {
    let kg = Installation::new();
    let client = kg.client(&[
        "--name",
        "storm",
        "--scope",
        "read",
        "--grant-type",
        "client_credentials",
        "--grant-type",
        "refresh_token",
    ]);
    let auth = basic_auth(&client.id, &client.secret);
    let start = || kg.serve(&[("KEYGATE_RATE_LIMITS", "false"), ("KEYGATE_WORKERS", "2")]);

    for round in 0..3 {
        let server = start();
        let address = server.address.clone();
        let killed = Arc::new(AtomicBool::new(false));
        let chains: Vec<_> = (0..8)
            .map(|_| {
                let (address, auth, killed) = (address.clone(), auth.clone(), killed.clone());
                std::thread::spawn(move || refresh_until_killed(&address, &auth, &killed))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        killed.store(true, Ordering::SeqCst);
        let (log, _) = server.stop(); // SIGKILL
        let ends: Vec<(Option<String>, usize)> =
            chains.into_iter().map(|c| c.join().unwrap()).collect();
        assert!(
            ends.iter().all(|(_, rotations)| *rotations > 1),
            "round {round}: the storm never got going:\n{log}"
        );

        let store = kg.db.store();
        let now = chrono::Utc::now().naive_utc();
        // Every live family has exactly one live token: no fork, and no rotation
        // half done (a token spent without its successor).
        assert_eq!(
            db::families_without_exactly_one_live_token(&store, now),
            0,
            "round {round}"
        );
        if kg.db.url.starts_with("sqlite") {
            assert_eq!(db::sqlite_integrity(&store), ["ok"], "round {round}");
        }
        // What each chain's last token should get: the database says whether the
        // kill came before its rotation committed (unspent: it works) or after (the
        // answer was lost with the process: spent, so presenting it again is reuse).
        let expected: Vec<(String, bool)> = ends
            .iter()
            .filter_map(|(t, _)| t.clone())
            .map(|token| {
                let live = db::refresh_token_is_live(&store, &token, now)
                    .expect("every token a client received was committed");
                (token, live)
            })
            .collect();
        drop(store);

        // Restarted on the same database, every chain's last token gets that answer.
        let server = start();
        for (token, live) in &expected {
            let (status, body) = server.post_form(
                "/oauth/token",
                Some(&auth),
                &[("grant_type", "refresh_token"), ("refresh_token", token)],
            );
            if *live {
                assert_eq!(status, 200, "round {round}: {body}");
            } else {
                assert!(
                    status == 400 && body.contains("invalid_grant"),
                    "round {round}: {status} {body}"
                );
            }
        }
        let (ok, log) = server.terminate();
        assert!(ok, "{log}");
        assert!(!log.contains("panicked"), "{log}");
    }
}
