//! The `kat` binary: parses arguments and calls `kat_tools::cli::run`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    kat_tools::cli::init_logging();
    let cli = kat_tools::cli::Cli::parse();
    kat_tools::cli::exit_code(kat_tools::cli::run(cli), "kat")
}
