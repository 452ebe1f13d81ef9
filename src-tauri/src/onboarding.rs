//! IPC for the first-login wizard: the steps stream over a channel, the
//! result is the signed-in session. The work itself is `kring_core::first_login`.

use std::sync::{Arc, Mutex};

use kring_core::{
    CoreError, Onboarded, OnboardingConfig, OnboardingProgress, OnboardingStep, StepState, SystemBrowser,
};
use serde::Serialize;
use tauri::{State, ipc::Channel};

use crate::{error::AppError, state::AppState};

/// What the login screen offers on this installation.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LoginOptions {
    /// An organisation login (OIDC + directory) is configured.
    pub organisation_login: bool,
    /// The IdP's name to show under the button.
    pub idp_name: Option<String>,
}

#[tauri::command]
#[specta::specta]
pub async fn login_options(state: State<'_, AppState>) -> Result<LoginOptions, AppError> {
    Ok(match state.onboarding_config() {
        Ok(config) => LoginOptions { organisation_login: true, idp_name: config.idp.name },
        Err(_) => LoginOptions { organisation_login: false, idp_name: None },
    })
}

/// Runs the first login; `cancel_first_login` stops it at whatever step.
#[tauri::command]
#[specta::specta]
pub async fn first_login(
    state: State<'_, AppState>,
    on_progress: Channel<OnboardingProgress>,
) -> Result<Onboarded, AppError> {
    let config: OnboardingConfig = state.onboarding_config()?;
    let data_dir = state.data_dir()?.to_owned();
    let (secrets, profile) = (state.secrets.clone(), state.profile.clone());
    // The step that was running when the user cancelled is the one that failed.
    let current = Arc::new(Mutex::new(None::<OnboardingStep>));
    let (seen, channel) = (current.clone(), on_progress.clone());
    let task = tokio::spawn(async move {
        let mut report = move |p: OnboardingProgress| {
            *seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(p.step);
            let _ = channel.send(p);
        };
        let browser = Arc::new(SystemBrowser::from_env());
        kring_core::first_login(&data_dir, secrets, &profile, &config, browser, &mut report).await
    });
    state.set_onboarding(Some(task.abort_handle()));
    let outcome = task.await;
    state.set_onboarding(None);
    match outcome {
        Ok(Ok((session, onboarded))) => {
            if let Some(old) = state.set_session(Some(Arc::new(session))).await {
                old.stop().await;
            }
            Ok(onboarded)
        }
        Ok(Err(e)) => Err(e.into()),
        Err(join) => {
            if let Some(step) = *current.lock().unwrap_or_else(|e| e.into_inner()) {
                let _ = on_progress.send(OnboardingProgress { step, state: StepState::Failed, detail: None });
            }
            Err(if join.is_cancelled() {
                CoreError::LoginCancelled("cancelled in Kring".into())
            } else {
                CoreError::Internal(format!("first login stopped: {join}"))
            }
            .into())
        }
    }
}

#[tauri::command]
#[specta::specta]
pub async fn cancel_first_login(state: State<'_, AppState>) -> Result<(), AppError> {
    if let Some(handle) = state.take_onboarding() {
        handle.abort();
    }
    Ok(())
}
