//! The `normalizer-runner` binary: the normalizer worker pool against the scheduler and Bytes REST APIs and a graph, the same as `kat serve --normalizer-runner`.

fn main() -> std::process::ExitCode {
    kat_tools::cli::init_logging();
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!("normalizer-runner: run normalizer tasks from the scheduler (built-in normalizers and KATALOGUS_PLUGIN_DIR programs), reading raw files from Bytes and saving objects in the graph. Same as `kat serve --normalizer-runner`.\n\n{}", kat_tools::normalizer_runner_service::HELP);
        return std::process::ExitCode::SUCCESS;
    }
    kat_tools::cli::exit_code(kat_tools::normalizer_runner_service::run(), "normalizer-runner")
}
