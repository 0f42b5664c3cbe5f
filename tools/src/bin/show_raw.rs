//! The `show_raw` binary (OpenKAT's tool name), the same as `kat show-raw`.

use clap::Parser;

/// Arguments of `show_raw`.
#[derive(Debug, Parser)]
#[command(name = "show_raw", version, about = "Same as `kat show-raw`; see `kat show-raw --help`")]
struct Cli {
    #[command(flatten)]
    args: kat_tools::cli::show_raw::ShowRawArgs,
}

fn main() -> std::process::ExitCode {
    kat_tools::cli::init_logging();
    kat_tools::cli::exit_code(kat_tools::cli::show_raw::run(&Cli::parse().args, &mut std::io::stdout().lock()), "show_raw")
}
