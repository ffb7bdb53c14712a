//! The real `keygate` binary, run as a process: its CLI commands, a first start and
//! what its logs may carry, how it stops, and storage that fails under it. The
//! process helpers are `helpers::process`'s.

mod cli;
mod logs;
mod stops;
mod storage;
