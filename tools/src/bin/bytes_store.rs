//! The `bytes-store` binary: the Bytes REST API, the same as `kat serve --bytes`.

fn main() -> std::process::ExitCode {
    kat_tools::cli::init_logging();
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!("bytes-store: serve the Bytes REST API (OpenKAT's /bytes endpoints). Same as `kat serve --bytes`.\n\n{}", kat_tools::cli::serve::BYTES_HELP);
        return std::process::ExitCode::SUCCESS;
    }
    kat_tools::cli::exit_code(kat_tools::cli::serve::bytes(), "bytes-store")
}
