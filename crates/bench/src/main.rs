//! `sepia-bench`: flags in, table (or JSON) out. Exit status: 0 when every operation succeeded
//! and nothing was left behind, 1 when some did not, 2 when the run could not be carried out.

use std::process::ExitCode;

use bench::{Options, render::render};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let opts = Options::parse();
    let run = async {
        match &opts.fs_name {
            Some(fs) => tokio::select! {
                report = bench::cephfs::run(&opts, fs) => report,
                () = interrupted() => Err(bench::Error::Interrupted),
            },
            None => bench::run::run_until(&opts, interrupted()).await,
        }
    };
    match run.await {
        Ok(report) => {
            if opts.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(json) => println!("{json}"),
                    Err(e) => {
                        eprintln!("sepia-bench: cannot encode the report as JSON: {e}");
                        return ExitCode::from(2);
                    }
                }
            } else {
                print!("{}", render(&report));
            }
            if report.clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("sepia-bench: {e}");
            ExitCode::from(2)
        }
    }
}

/// Ctrl-C or SIGTERM ([`shutdown::requested`]); said on stderr, as the run has no log.
async fn interrupted() {
    shutdown::requested().await;
    eprintln!("sepia-bench: interrupted; removing what the run made");
}
