//! The `run_boefje` binary (OpenKAT's tool name), the same as `kat run-boefje`.

use clap::Parser;

/// Arguments of `run_boefje`.
#[derive(Debug, Parser)]
#[command(name = "run_boefje", version, about = "Same as `kat run-boefje`; see `kat run-boefje --help`")]
struct Cli {
    #[command(flatten)]
    args: kat_tools::cli::run_boefje::RunBoefjeArgs,
}

fn main() -> std::process::ExitCode {
    kat_tools::cli::init_logging();
    kat_tools::cli::exit_code(kat_tools::cli::run_boefje::run(&Cli::parse().args, &mut std::io::stdout().lock()), "run_boefje")
}
