//! The real `keygate` binary as an operator runs it: an [`Installation`] (a temp dir
//! with `keys/` and its own database) whose CLI commands give JSON, a running
//! [`Server`] whose log and stdout are collected apart, blocking HTTP to it over
//! reqwest, private small disks, and what the machine allows (root, free ports).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::actors::{TestClient, TestKey};
use super::db::TestDatabase;

/// A temp dir with `keys/` and a database of its own: what one operator's keygate
/// runs on. Dropping it drops the database.
pub struct Installation {
    pub db: TestDatabase,
    pub dir: TempDir,
}

impl Installation {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDatabase::create(&dir);
        Self { db, dir }
    }

    /// The binary with a clean environment pointing at this installation.
    pub fn keygate(&self) -> Command {
        keygate(&self.dir, &self.db)
    }

    /// `keygate <args>`, run to its end.
    pub fn run(&self, args: &[&str]) -> CliOutput {
        run(self.keygate().args(args))
    }

    /// `keygate client create <args>`, which must succeed.
    pub fn client(&self, args: &[&str]) -> TestClient {
        let created = self.run(&[&["client", "create"], args].concat());
        assert!(created.ok, "{}", created.stderr);
        TestClient::from_created(&created.json)
    }

    /// `keygate api-key create <args>`, which must succeed.
    pub fn api_key(&self, args: &[&str]) -> TestKey {
        let created = self.run(&[&["api-key", "create"], args].concat());
        assert!(created.ok, "{}", created.stderr);
        TestKey::from_created(&created.json)
    }

    /// `keygate serve` with `env` on top of the installation's environment.
    pub fn serve(&self, env: &[(&str, &str)]) -> Server {
        let mut cmd = self.keygate();
        cmd.envs(env.iter().copied());
        Server::start(cmd)
    }

    /// The first `keygate serve` of a fresh installation and the bootstrap admin key
    /// it printed.
    pub fn serve_with_admin(&self, env: &[(&str, &str)]) -> (Server, String) {
        let server = self.serve(env);
        let admin = server.bootstrap_key();
        (server, admin)
    }
}

/// The binary with a clean environment pointing at `db` and `dir/keys`.
pub fn keygate(dir: &TempDir, db: &TestDatabase) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keygate"));
    clean_environment(&mut cmd);
    cmd.current_dir(dir.path())
        .env("KEYGATE_DATABASE_URL", &db.url)
        .env("KEYGATE_KEYS_DIR", dir.path().join("keys"))
        .env("KEYGATE_BIND", "127.0.0.1:0")
        .env("KEYGATE_WORKERS", "1");
    cmd
}

/// No `KEYGATE_*` of the test run's own reaches the binary.
fn clean_environment(cmd: &mut Command) {
    for (var, _) in std::env::vars().filter(|(v, _)| v.starts_with("KEYGATE_")) {
        cmd.env_remove(var);
    }
}

pub struct CliOutput {
    pub ok: bool,
    pub json: serde_json::Value,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> CliOutput {
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    CliOutput {
        ok: output.status.success(),
        json: serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Runs a command that must stop by itself within 30 s: (success, stderr).
pub fn refused_start(cmd: &mut Command) -> (bool, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("keygate did not stop by itself within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.success(), stderr)
}

/// A running `keygate serve` whose stderr (the log) and stdout are collected apart.
pub struct Server {
    pub child: Child,
    pub log: Arc<Mutex<String>>,
    pub stdout: Arc<Mutex<String>>,
    pub address: String,
    http: reqwest::blocking::Client,
}

impl Server {
    pub fn start(mut cmd: Command) -> Self {
        let mut child = cmd
            .arg("serve")
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        for (stream, sink) in [
            (
                Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
                log.clone(),
            ),
            (Box::new(child.stdout.take().unwrap()), stdout.clone()),
        ] {
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut sink = sink.lock().unwrap();
                    sink.push_str(&line);
                    sink.push('\n');
                }
            });
        }
        let started = Instant::now();
        let address = loop {
            let text = log.lock().unwrap().clone();
            if let Some(rest) = text.split("address=").nth(1) {
                break format!("http://{}", rest.split_whitespace().next().unwrap());
            }
            // The same line in JSON logs.
            if let Some(rest) = text.split("\"address\":\"").nth(1) {
                break format!("http://{}", rest.split('"').next().unwrap());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "server did not start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            child,
            log,
            stdout,
            address,
            http: blocking_http(),
        }
    }

    /// A request to `path` on this server.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::blocking::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.address))
    }

    /// GET `path` with `headers`: (status, body).
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut request = self.request(reqwest::Method::GET, path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.send().unwrap())
    }

    /// POST `path` with a JSON body and `headers`: (status, body).
    pub fn post_json(&self, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
        let mut request = self
            .request(reqwest::Method::POST, path)
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.send().unwrap())
    }

    /// POST `path` with a JSON body and `headers`, which must create (201): the body.
    pub fn create(&self, path: &str, headers: &[(&str, &str)], body: &str) -> serde_json::Value {
        let (status, created) = self.post_json(path, headers, body);
        assert_eq!(status, 201, "{created}");
        serde_json::from_str(&created).unwrap()
    }

    /// POST /oauth/token (or `path`) with a form body and, if given, an
    /// `Authorization` header: (status, body); an error once the process is gone.
    pub fn try_post_form(
        &self,
        path: &str,
        authorization: Option<&str>,
        form: &[(&str, &str)],
    ) -> reqwest::Result<(u16, String)> {
        let mut request = self.request(reqwest::Method::POST, path).form(form);
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        Ok(answer(request.send()?))
    }

    /// `try_post_form` on a server that is up.
    pub fn post_form(
        &self,
        path: &str,
        authorization: Option<&str>,
        form: &[(&str, &str)],
    ) -> (u16, String) {
        self.try_post_form(path, authorization, form).unwrap()
    }

    /// A client_credentials token with Basic `authorization`, which must be issued.
    pub fn access_token(&self, authorization: &str) -> String {
        let (status, body) = self.post_form(
            "/oauth/token",
            Some(authorization),
            &[("grant_type", "client_credentials")],
        );
        assert_eq!(status, 200, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Stops the server the way an orchestrator does (SIGTERM: a graceful stop) and
    /// waits for it to exit; returns whether it exited successfully, and its log.
    pub fn terminate(mut self) -> (bool, String) {
        self.signal_terminate();
        let exited = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let log = self.log.lock().unwrap().clone();
        (exited.success(), log)
    }

    /// Sends SIGTERM and returns at once. It may be stopping already (then the kill
    /// finds nothing to signal).
    pub fn signal_terminate(&self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
    }

    /// The bootstrap admin key the server printed on stdout, waiting for it a while:
    /// it is made after the listener binds, so it may follow the `listening` line.
    pub fn bootstrap_key(&self) -> String {
        let started = Instant::now();
        loop {
            let stdout = self.stdout.lock().unwrap().clone();
            if let Some(key) = stdout
                .split_whitespace()
                .find(|w| w.starts_with("kg_live_"))
            {
                return key.to_owned();
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "no bootstrap key printed:\n{stdout}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (up to 15 s) for `text` in the log.
    pub fn wait_for_log(&self, text: &str, what: &str) {
        let started = Instant::now();
        while !self.log.lock().unwrap().contains(text) {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{what}:\n{}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (SIGKILL); returns (log, stdout).
    pub fn stop(mut self) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(100));
        let log = self.log.lock().unwrap().clone();
        let stdout = self.stdout.lock().unwrap().clone();
        (log, stdout)
    }
}

/// A blocking client for tests without an async runtime; no connection is kept
/// between requests, so a stopped process is an error at the next request.
pub fn blocking_http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

fn answer(response: reqwest::blocking::Response) -> (u16, String) {
    let status = response.status().as_u16();
    (status, response.text().unwrap())
}

/// Whether the tests run as root (as on this project's CI machine): the disk and
/// PostgreSQL-restart tests then mount directly and run PostgreSQL as `postgres`.
pub fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `unshare` can make a private mount namespace and mount a tmpfs in it (as
/// root, as on this project's CI machine, or in a user namespace). Where it cannot —
/// a container without CAP_SYS_ADMIN, say — the disk tests say so and do not run.
pub fn private_mounts_work() -> bool {
    let dir = tempfile::tempdir().unwrap();
    let mut probe = keygate_on_small_disk(&dir, 64, None, false);
    probe.env("KG_BIN", "true");
    let works = probe.status().is_ok_and(|s| s.success());
    super::available(
        "private mounts (unshare as root or in a user namespace)",
        works,
    )
}

/// `keygate <args>` in a private mount namespace whose `data` directory is a tmpfs of
/// `size_kb`, made by `unshare` (as root, as on the CI machine; else in a user
/// namespace). With `seed`, everything in that directory is copied in first; with
/// `read_only`, the tmpfs is then remounted read-only. The database is
/// `data/keygate.db`.
pub fn keygate_on_small_disk(
    dir: &TempDir,
    size_kb: u32,
    seed: Option<&Path>,
    read_only: bool,
) -> Command {
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut cmd = Command::new("unshare");
    if !running_as_root() {
        cmd.args(["--user", "--map-root-user"]);
    }
    let script = r#"set -e
mount -t tmpfs -o "size=${KG_SIZE_KB}k" tmpfs "$KG_DATA"
if [ -n "$KG_SEED" ]; then cp -a "$KG_SEED"/. "$KG_DATA"/; fi
if [ "$KG_READ_ONLY" = 1 ]; then mount -o remount,ro "$KG_DATA"; fi
exec "$KG_BIN" "$@""#;
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ]);
    clean_environment(&mut cmd);
    cmd.current_dir(dir.path())
        .env("KG_BIN", env!("CARGO_BIN_EXE_keygate"))
        .env("KG_DATA", &data)
        .env("KG_SIZE_KB", size_kb.to_string())
        .env("KG_SEED", seed.map(|s| s.as_os_str()).unwrap_or_default())
        .env("KG_READ_ONLY", if read_only { "1" } else { "0" })
        .env(
            "KEYGATE_DATABASE_URL",
            format!("sqlite://{}", data.join("keygate.db").display()),
        )
        .env("KEYGATE_KEYS_DIR", dir.path().join("keys"))
        .env("KEYGATE_BIND", "127.0.0.1:0")
        .env("KEYGATE_WORKERS", "1");
    cmd
}

/// The playwright-core module and Debian's Chromium for the browser tests, if both
/// are here (`.ci/run` installs them: `KEYGATE_TEST_PLAYWRIGHT` names the module's
/// directory, default `~/.cache/keygate-browser-node-1.64.1/node_modules/playwright-core`).
pub fn browser_tools() -> Option<String> {
    let module = std::env::var("KEYGATE_TEST_PLAYWRIGHT").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        format!("{home}/.cache/keygate-browser-node-1.64.1/node_modules/playwright-core")
    });
    let there = std::path::Path::new(&module).join("package.json").exists()
        && std::path::Path::new("/usr/bin/chromium").exists()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    super::available("Chromium, node and playwright-core", there).then_some(module)
}

/// Runs the browser script `tests/browser/{script}` with node against keygate, with
/// `env` and the playwright-core module (`browser_tools`) and the screenshots
/// directory (`KEYGATE_TEST_SCREENSHOTS`, if set); fails the test unless it exits
/// successfully, and returns what it printed (its `ok - …` lines).
pub async fn run_browser_script(
    playwright: String,
    script: &str,
    env: &[(&str, String)],
) -> String {
    let path = format!("{}/tests/browser/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut node = Command::new("node");
    node.arg(path).env("PLAYWRIGHT_CORE", playwright).env(
        "SCREENSHOTS",
        std::env::var("KEYGATE_TEST_SCREENSHOTS").unwrap_or_default(),
    );
    for (name, value) in env {
        node.env(name, value);
    }
    // The app answers on the test's runtime: wait for node off it.
    let output = actix_web::rt::task::spawn_blocking(move || node.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}
