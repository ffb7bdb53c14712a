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
    let settings = match Settings::load(args.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("keygate: {e}");
            return ExitCode::from(2);
        }
    };
    keygate::telemetry::init(settings.log_format);
    match cli::execute(args.command, settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keygate: {e:#}");
            ExitCode::FAILURE
        }
    }
}
