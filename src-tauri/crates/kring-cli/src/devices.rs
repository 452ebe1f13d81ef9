//! `kring-cli recovery`: set up recovery on an account's first device, take
//! over an account's keys and care teams on a new one, and show the state.

use clap::Subcommand;
use kring_core::{CoreError, Session};

use crate::output::Output;

#[derive(Subcommand)]
pub enum RecoveryCommand {
    /// Set up recovery (cross-signing, secret storage, key backup) and print
    /// the recovery key once. Keep it somewhere safe.
    Setup,
    /// Use the recovery key on this device: it becomes verified, reads the
    /// history and knows the account's care teams. The key is read from
    /// standard input, never from the command line.
    Recover,
    /// Whether recovery is set up and this device verified.
    Status,
}

pub async fn recovery(session: &Session, command: &RecoveryCommand, out: &Output) -> Result<(), CoreError> {
    match command {
        RecoveryCommand::Setup => {
            let key = session.enable_recovery().await?;
            out.value(&serde_json::json!({"recoveryKey": key.as_str()}));
        }
        RecoveryCommand::Recover => {
            let key = zeroize::Zeroizing::new(crate::read_password_stdin()?);
            session.recover(&key).await?;
            out.value(&serde_json::json!({"recovered": session.device_trust().await}));
        }
        RecoveryCommand::Status => out.value(&session.device_trust().await),
    }
    Ok(())
}
