//! `kring-identity-service --config is.json`: runs until stopped (SIGTERM/ctrl-c).

use std::path::PathBuf;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("KRING_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let mut args = std::env::args().skip(1);
    let config = match (args.next().as_deref(), args.next()) {
        (Some("--config"), Some(path)) => PathBuf::from(path),
        _ => {
            eprintln!("usage: kring-identity-service --config <file.json>");
            return std::process::ExitCode::from(2);
        }
    };
    let config = match kring_identity_service::Config::load(&config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let running = match kring_identity_service::start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // stackctl and the tests read the address from this line.
    println!("{}", serde_json::json!({"listening": running.addr.to_string()}));
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = running.task => {}
    }
    std::process::ExitCode::SUCCESS
}
