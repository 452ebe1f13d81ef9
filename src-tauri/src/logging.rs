//! Logs go to stderr and a daily file. Message bodies, tokens and patient
//! identifiers are never logged anywhere in Kring; the filter is `KRING_LOG`
//! (default `info`, with the SDK's chatty modules at `warn`). A device that
//! has not been recovered yet has no backup key by design; the crypto
//! crate's per-sync "no backup key" warning is silenced, and the UI says
//! instead that the device still needs its recovery key.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

pub fn init() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let filter = EnvFilter::try_from_env("KRING_LOG").unwrap_or_else(|_| {
        EnvFilter::new(
            "info,matrix_sdk=warn,matrix_sdk_ui=warn,matrix_sdk_crypto=warn,matrix_sdk_crypto::backups=error",
        )
    });
    let (file_layer, guard) = match std::env::var_os("KRING_LOG_DIR") {
        Some(dir) => {
            let appender = tracing_appender::rolling::daily(dir, "kring.log");
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (Some(fmt::layer().with_ansi(false).with_writer(writer)), Some(guard))
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(std::io::stderr))
        .with(file_layer)
        .try_init();
    guard
}
