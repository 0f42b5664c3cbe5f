//! The `boefje-runner` binary: the boefje worker pool against the scheduler, Bytes and KATalogus REST APIs, the same as `kat serve --boefje-runner`.

fn main() -> std::process::ExitCode {
    kat_tools::cli::init_logging();
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!("boefje-runner: run boefje tasks from the scheduler (built-in boefjes and KATALOGUS_PLUGIN_DIR programs), storing raw files in Bytes. Same as `kat serve --boefje-runner`.\n\n{}", kat_tools::boefje_runner_service::HELP);
        return std::process::ExitCode::SUCCESS;
    }
    kat_tools::cli::exit_code(kat_tools::boefje_runner_service::run(), "boefje-runner")
}
