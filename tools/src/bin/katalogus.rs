//! The `katalogus` binary: the KATalogus REST API, the same as `kat serve --katalogus`.

fn main() -> std::process::ExitCode {
    kat_tools::cli::init_logging();
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!("katalogus: serve the KATalogus REST API (OpenKAT's /v1 endpoints). Same as `kat serve --katalogus`.\n\n{}", kat_tools::cli::serve::KATALOGUS_HELP);
        return std::process::ExitCode::SUCCESS;
    }
    kat_tools::cli::exit_code(kat_tools::cli::serve::katalogus(), "katalogus")
}
