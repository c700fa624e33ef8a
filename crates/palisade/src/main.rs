//! The `palisade` binary: parses the command line and dispatches to one verb. Errors
//! end here, printed once, with a non-zero exit.
// The CLI prints to the terminal on purpose; everything else logs through `tracing`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod access;
mod admin_client;
mod app;
mod cli;
mod files;
mod ledger_setup;
mod logging;
mod scan_setup;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
