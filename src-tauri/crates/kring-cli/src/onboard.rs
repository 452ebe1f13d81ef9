//! First login from the command line, and the directories a session may ask.

use std::sync::Arc;

use kring_core::{CoreError, KeyringSecretStore, Session};
use kring_store::Store;

use crate::output::Output;

/// The first login, printing each step as it changes; or, with a session in
/// the keychain, its restore, without any login.
pub async fn onboard(
    data_dir: &std::path::Path,
    secrets: Arc<KeyringSecretStore>,
    profile: &str,
    config: &std::path::Path,
    browser: Option<&str>,
    store: &Store,
    out: &Output,
) -> Result<(), CoreError> {
    let ready = |detail: Option<&str>| kring_core::OnboardingProgress {
        step: kring_core::OnboardingStep::Ready,
        state: kring_core::StepState::Done,
        detail: detail.map(str::to_owned),
    };
    if let Some(session) = Session::restore(data_dir, secrets.clone(), profile).await? {
        out.progress(&ready(Some("restored")));
        let mut summary: serde_json::Value = store
            .setting(kring_core::onboarding::SUMMARY_SETTING)
            .await
            .ok()
            .flatten()
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        summary["session"] = serde_json::json!(session.info().await);
        out.value(&serde_json::json!({"onboarded": summary}));
        session.stop().await;
        return Ok(());
    }
    let config = kring_core::OnboardingConfig::load(config)?;
    let browser: Arc<dyn kring_core::Browser> = Arc::new(match browser {
        Some(command) => kring_core::SystemBrowser::with_command(command),
        None => kring_core::SystemBrowser::from_env(),
    });
    let mut report = |p: kring_core::OnboardingProgress| out.progress(&p);
    let (session, onboarded) =
        kring_core::first_login(data_dir, secrets, profile, &config, browser, &mut report).await?;
    out.value(&serde_json::json!({"onboarded": onboarded}));
    session.stop().await;
    Ok(())
}

/// Lets the session ask the directories of the onboarding configuration.
pub fn use_directories(session: &Session, config: Option<&std::path::Path>) -> Result<(), CoreError> {
    if let Some(path) = config {
        session.use_directories(kring_core::DirectoryScope::from(&kring_core::OnboardingConfig::load(path)?));
    }
    Ok(())
}
