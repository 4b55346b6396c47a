//! `sepia-demo`: exit status 0 when every step succeeded, 1 when one failed, 2 when the demo
//! could not start (flags, bed env file).

use std::process::ExitCode;

use clap::Parser;
use demo::Options;

#[tokio::main]
async fn main() -> ExitCode {
    let opts = Options::parse();
    match demo::run(&opts).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("sepia-demo: {e}");
            ExitCode::from(2)
        }
    }
}
