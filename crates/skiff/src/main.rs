//! `skiff`: a Kubernetes-compatible container orchestrator in one binary.

mod cli;
mod dns;
mod image;
mod join;
mod node;
mod server;

use clap::Parser;

/// mimalloc: the API server's hot paths (JSON decode, schema walk, managedFields, TLS) are
/// allocation-heavy; profiles showed glibc malloc/free as a large share of CPU per request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // `skiff shim ...` is the per-container supervisor (and pause process) the runtime starts;
    // it must not set up logging or a runtime of its own before the shim takes over.
    if std::env::args_os().nth(1).is_some_and(|a| a == "shim") {
        let args = skiff_runtime::ShimArgs::parse_from(std::env::args_os().skip(1));
        return std::process::ExitCode::from(
            u8::try_from(skiff_runtime::shim_main(args)).unwrap_or(1),
        );
    }
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SKIFF_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        cli::Command::Server(args) => server::run(args),
        cli::Command::Kubeconfig(args) => server::print_kubeconfig(args),
        cli::Command::Token(args) => server::print_token(args),
        cli::Command::Image(args) => image::run(args),
        cli::Command::Agent(args) => node::run_standalone(args),
        cli::Command::CleanupNetwork => node::cleanup_network(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skiff: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
