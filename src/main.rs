//! The `keygate` binary: parse arguments, load settings, run a command (see `cli`).

use std::process::ExitCode;

use clap::Parser;

use keygate::cli::{self, Cli};
use keygate::config::Settings;

/// mimalloc instead of glibc malloc: the token path allocates many small objects
/// across worker and blocking threads, where glibc's per-thread arenas cost ~15 %
/// of throughput (bench/token.sh) and hold on to freed memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Cli::parse();
    // Completions need no settings: a shell set-up must not depend on the server's.
    if let cli::Command::Completions { shell } = args.command {
        return match cli::print_completions(shell) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                report(&format!("keygate: {e:#}"));
                ExitCode::FAILURE
            }
        };
    }
    let settings = match Settings::load(args.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            report(&format!("keygate: {e}"));
            return ExitCode::from(2);
        }
    };
    keygate::telemetry::init(settings.log_format);
    match cli::execute(args.command, settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&format!("keygate: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// The error on stderr; if stderr is closed too there is no one to tell, and the
/// exit code says it (where `eprintln!` would panic).
fn report(message: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{message}");
}
