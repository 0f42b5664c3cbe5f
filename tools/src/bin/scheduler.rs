//! The `scheduler` binary: the scheduler REST API (OpenKAT's mula paths) with its background loops, the same as `kat serve --scheduler`.

fn main() -> std::process::ExitCode {
    kat_tools::cli::init_logging();
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!("scheduler: serve the scheduler REST API (OpenKAT's mula endpoints) with leases, schedules and subscriptions. Same as `kat serve --scheduler`.\n\n{}", kat_tools::cli::serve::SCHEDULER_HELP);
        return std::process::ExitCode::SUCCESS;
    }
    kat_tools::cli::exit_code(kat_tools::scheduler_service::run(), "scheduler")
}
