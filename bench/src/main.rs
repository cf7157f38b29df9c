//! skiff-bench: API server benchmarks (see bench/README.md).

use clap::Parser;
use serde_json::json;
use skiff_bench::error::BenchError;
use skiff_bench::report::Metrics;
use skiff_bench::{args, plan, report};
use std::process::ExitCode;

async fn run(args: &args::Args) -> Result<(Vec<Metrics>, Metrics), BenchError> {
    let mut runs = Vec::with_capacity(args.runs);
    for n in 1..=args.runs {
        eprintln!("run {n}/{}", args.runs);
        // Servers are owned inside run_once: an error or Ctrl-C drops (kills) them.
        let m = tokio::select! {
            r = plan::run_once(args) => r?,
            _ = tokio::signal::ctrl_c() => return Err(BenchError::Interrupted),
        };
        println!("{}", report::render(&format!("run {n}/{}", args.runs), &m));
        runs.push(m);
    }
    let medians = report::medians(&runs);
    Ok((runs, medians))
}

fn main() -> ExitCode {
    let args = args::Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("skiff-bench: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "skiff-bench on {}; skiff = {}",
        skiff_bench::report::machine(),
        args.skiff.display()
    );
    match rt.block_on(run(&args)) {
        Ok((runs, medians)) => {
            println!(
                "{}",
                report::render(&format!("median of {} runs", runs.len()), &medians)
            );
            if let Some(path) = &args.json {
                let doc = json!({"machine": skiff_bench::report::machine(), "runs": runs, "median": medians});
                if let Err(e) =
                    std::fs::write(path, serde_json::to_vec_pretty(&doc).unwrap_or_default())
                {
                    eprintln!("skiff-bench: writing {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let mut msg = format!("skiff-bench: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}
