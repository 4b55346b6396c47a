//! `sepia`: see the crate docs (`lib.rs`).

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = sepia_cli::args::Cli::parse();
    match sepia_cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sepia: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
