//! The `run_normalizer` binary (OpenKAT's tool name), the same as `kat run-normalizer`.

use clap::Parser;

/// Arguments of `run_normalizer`.
#[derive(Debug, Parser)]
#[command(name = "run_normalizer", version, about = "Same as `kat run-normalizer`; see `kat run-normalizer --help`")]
struct Cli {
    #[command(flatten)]
    args: kat_tools::cli::run_normalizer::RunNormalizerArgs,
}

fn main() -> std::process::ExitCode {
    kat_tools::cli::init_logging();
    kat_tools::cli::exit_code(kat_tools::cli::run_normalizer::run(&Cli::parse().args, &mut std::io::stdout().lock()), "run_normalizer")
}
