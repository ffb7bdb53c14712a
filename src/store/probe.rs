//! Start-up checks of a SQLite file: created private (0600), and writable — SQLite
//! itself opens a file it may not write read-only without a word, and says only
//! "unable to open database file" when it cannot.

/// Why a SQLite database cannot be written, in the operating system's words — SQLite
/// itself only says "unable to open database file" — or `None` if it can be.
pub(super) fn sqlite_write_problem(path: &str) -> Option<String> {
    use std::fs::OpenOptions;
    let path = std::path::Path::new(path);
    if path.exists() {
        if let Err(error) = OpenOptions::new().append(true).open(path) {
            return Some(format!("the file is not writable: {error}"));
        }
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let probe = dir.join(format!(".keygate-write-probe-{}", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            None
        }
        Err(error) => Some(format!(
            "its directory {} is not writable: {error}; SQLite keeps its -wal and -shm files beside the database",
            dir.display()
        )),
    }
}

/// Creates a SQLite database file that does not exist yet with mode 0600. SQLite
/// itself would create it under the process's umask — world-readable under the usual
/// 022 — and gives the -wal and -shm files it makes later the main file's mode, so
/// creating the main file first covers all three. An existing file keeps its mode
/// (the operator's choice), with a warning when others may read it. A `file:` URI
/// is left to SQLite, and so is any failure here: its own open reports it.
pub(super) fn create_private_sqlite_file(path: &str) {
    if path.starts_with("file:") {
        return;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path).map_or(0, |m| m.permissions().mode());
                if mode & 0o077 != 0 {
                    tracing::warn!(path, mode = %format!("{:o}", mode & 0o777),
                        "the database file is open to other users; chmod 600 it (and its -wal and -shm files)");
                }
            }
        }
        Err(_) => {}
    }
}
