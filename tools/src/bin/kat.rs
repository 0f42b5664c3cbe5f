//! The `kat` binary: parses arguments and calls `kat_tools::cli::run`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = kat_tools::cli::Cli::parse();
    match kat_tools::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kat: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
