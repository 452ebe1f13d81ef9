//! IPC for the first-login wizard: the steps stream over a channel, the
//! result is the signed-in session. The work itself is `kring_core::first_login`.

use std::sync::{Arc, Mutex};

use kring_core::{
    CoreError, Onboarded, OnboardingConfig, OnboardingProgress, OnboardingStep, SessionInfo, StepState, SystemBrowser,
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
    /// The care platform's name, where related persons and clients sign in
    /// here too (e-mail, password, second factor); `None` if they cannot.
    pub related_person_login: Option<String>,
}

#[tauri::command]
#[specta::specta]
pub async fn login_options(state: State<'_, AppState>) -> Result<LoginOptions, AppError> {
    Ok(match state.onboarding_config() {
        Ok(config) => LoginOptions {
            organisation_login: true,
            idp_name: config.idp.name,
            related_person_login: config.related_persons.map(|r| r.name),
        },
        Err(_) => LoginOptions { organisation_login: false, idp_name: None, related_person_login: None },
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

/// A related person or client signs in at the care platform (the browser
/// opens at the homeserver's care platform login).
#[tauri::command]
#[specta::specta]
pub async fn related_person_login(state: State<'_, AppState>) -> Result<SessionInfo, AppError> {
    let config: OnboardingConfig = state.onboarding_config()?;
    let data_dir = state.data_dir()?.to_owned();
    let browser = SystemBrowser::from_env();
    let session =
        kring_core::related_person_login(&data_dir, state.secrets.clone(), &state.profile, &config, &browser).await?;
    let info = session.info().await;
    if let Some(old) = state.set_session(Some(Arc::new(session))).await {
        old.stop().await;
    }
    Ok(info)
}

/// Mails a code to `address` to bind it to this account: how an invite by
/// e-mail reaches the person it was meant for.
#[tauri::command]
#[specta::specta]
pub async fn request_email_validation(state: State<'_, AppState>, address: String) -> Result<(), AppError> {
    Ok(state.session().await?.request_email_validation(&address).await?)
}

/// Binds the address with the code from the mail; returns the address as bound.
#[tauri::command]
#[specta::specta]
pub async fn confirm_email(state: State<'_, AppState>, code: String) -> Result<String, AppError> {
    Ok(state.session().await?.confirm_email(&code).await?)
}
