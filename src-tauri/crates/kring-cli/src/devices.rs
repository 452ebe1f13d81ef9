//! `kring-cli recovery`, `devices` and `verify`: set up recovery on an
//! account's first device, take over its keys and care teams on a new one
//! (with the key or by emoji from another device), list and sign out devices.

use std::time::Duration;

use clap::Subcommand;
use kring_core::{CoreError, Reauth, Session, VerificationStep};

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

#[derive(Subcommand)]
pub enum DevicesCommand {
    /// This account's devices: this one first, verified or not.
    List,
    /// Sign another device out (a lost phone). The password is read from
    /// standard input; with `--browser` the homeserver's confirmation opens
    /// in the browser instead (accounts that sign in through the organisation).
    SignOut {
        device_id: String,
        #[arg(long)]
        browser: bool,
    },
}

pub async fn devices(session: &Session, command: &DevicesCommand, out: &Output) -> Result<(), CoreError> {
    match command {
        DevicesCommand::List => out.value(&session.own_devices().await?),
        DevicesCommand::SignOut { device_id, browser } => {
            if *browser {
                let b = kring_core::SystemBrowser::from_env();
                session.sign_out_device(device_id, Reauth::Browser(&b, Duration::from_secs(300))).await?;
            } else {
                let password = zeroize::Zeroizing::new(crate::read_password_stdin()?);
                session.sign_out_device(device_id, Reauth::Password(&password)).await?;
            }
            out.value(&serde_json::json!({"signedOut": device_id}));
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum VerifyCommand {
    /// On a new device: ask the account's other devices to verify this one.
    ThisDevice,
    /// On a verified device: wait for a new device's request and accept it.
    Accept,
}

/// How long `verify accept` keeps syncing after "done", for the secret
/// requests of the device it verified.
const HAND_OVER: Duration = Duration::from_secs(20);

/// Prints each step as a JSON line; at the emoji it asks on standard input
/// whether they match the other device ("yes" or "no").
pub async fn verify(session: &Session, command: &VerifyCommand, out: &Output) -> Result<(), CoreError> {
    let (tx, mut steps) = tokio::sync::mpsc::unbounded_channel();
    let sink = move |s| tx.send(s).is_ok();
    let _subscription = match command {
        VerifyCommand::ThisDevice => session.verify_this_device(Box::new(sink)).await?,
        VerifyCommand::Accept => {
            let (itx, mut incoming) = tokio::sync::mpsc::unbounded_channel();
            let _watch = session.watch_verification_requests(Box::new(move |s| itx.send(s).is_ok()));
            // Scripts start the other device's request only after this line.
            out.value(&serde_json::json!({"step": "listening"}));
            let Some(VerificationStep::Requested { flow_id, .. }) = incoming.recv().await else {
                return Err(CoreError::VerificationFailed("no request came".into()));
            };
            session.accept_verification(&flow_id, Box::new(sink)).await?
        }
    };
    while let Some(step) = steps.recv().await {
        out.value(&step);
        match step {
            VerificationStep::Compare { flow_id, .. } => {
                let answer = crate::read_password_stdin()?;
                session.confirm_verification(&flow_id, answer.trim().eq_ignore_ascii_case("yes")).await?;
            }
            VerificationStep::Done { .. } => {
                match command {
                    VerifyCommand::ThisDevice => {
                        let restored = session.finish_verification(Duration::from_secs(60)).await?;
                        out.value(&serde_json::json!({"restoredCareTeams": restored}));
                    }
                    // The new device asks this one for the cross-signing and
                    // backup keys right after: stay online to answer.
                    VerifyCommand::Accept => tokio::time::sleep(HAND_OVER).await,
                }
                return Ok(());
            }
            VerificationStep::Cancelled { reason, .. } => return Err(CoreError::VerificationCancelled(reason)),
            _ => {}
        }
    }
    Err(CoreError::VerificationFailed("the verification ended without an answer".into()))
}
