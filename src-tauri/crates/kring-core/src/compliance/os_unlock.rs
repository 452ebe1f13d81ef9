//! Unlocking the app lock through the operating system: polkit on Linux,
//! Windows Hello on Windows, Touch ID or the login password on macOS
//! (`robius-authentication`). The OS asks the person at the screen to prove
//! they are the signed-in desktop user; Kring only learns yes or no. The PIN
//! stays as the way in wherever the OS cannot answer.
//!
//! On Linux the question is the polkit action [`POLKIT_ACTION`], which the
//! package installs (`src-tauri/packaging/linux/nl.kring.unlock.policy`, "auth_self":
//! the user's own password, through the desktop's polkit agent).

use robius_authentication::{Context, Error as OsError, PolicyBuilder, Text, WindowsText};

/// The polkit action Kring asks for.
pub const POLKIT_ACTION: &str = "nl.kring.unlock";

/// What the operating system said.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OsAnswer {
    /// The person proved they are the desktop user.
    Confirmed,
    /// They tried and failed, or the OS denies this user (audited as a failed unlock).
    Refused,
    /// They closed the prompt.
    Cancelled,
    /// This device offers no such check now (no polkit, no agent, no
    /// Windows Hello, no action installed): the PIN is the way.
    Unavailable,
}

fn answer(result: Result<(), OsError>) -> OsAnswer {
    match result {
        Ok(()) => OsAnswer::Confirmed,
        Err(OsError::Authentication | OsError::Exhausted) => OsAnswer::Refused,
        Err(OsError::UserCanceled | OsError::AppCanceled | OsError::SystemCanceled | OsError::UserFallback) => {
            OsAnswer::Cancelled
        }
        Err(_) => OsAnswer::Unavailable,
    }
}

/// Asks the OS to confirm the desktop user; waits for the prompt's answer.
/// `reason` is the text on Windows and macOS (polkit shows the action's own).
pub async fn confirm_user(reason: &str) -> OsAnswer {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let reason = reason.to_owned();
    // The platform calls block (D-Bus round trips, the OS prompt), so they
    // run on a blocking thread; the callback may come from another thread.
    let started = tokio::task::spawn_blocking(move || {
        let Some(policy) = PolicyBuilder::new()
            .action_ids([POLKIT_ACTION])
            .biometrics(Some(robius_authentication::BiometricStrength::Strong))
            .password(true)
            .build()
        else {
            return Err(OsError::Unavailable);
        };
        let text = Text {
            android: robius_authentication::AndroidText { title: "Kring", subtitle: None, description: Some(&reason) },
            apple: &reason,
            windows: WindowsText::new_truncated("Kring", &reason),
        };
        let tx = std::sync::Mutex::new(Some(tx));
        Context::new(()).authenticate(text, &policy, move |result| {
            if let Some(tx) = tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = tx.send(result);
            }
        })
    })
    .await;
    match started {
        Ok(Ok(())) => rx.await.map_or(OsAnswer::Unavailable, answer),
        Ok(Err(e)) => answer(Err(e)),
        Err(_) => OsAnswer::Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_errors_map_to_what_the_user_can_do() {
        assert_eq!(answer(Ok(())), OsAnswer::Confirmed);
        assert_eq!(answer(Err(OsError::Authentication)), OsAnswer::Refused);
        assert_eq!(answer(Err(OsError::Exhausted)), OsAnswer::Refused);
        assert_eq!(answer(Err(OsError::UserCanceled)), OsAnswer::Cancelled);
        for unavailable in [OsError::Unavailable, OsError::NotEnrolled, OsError::PasscodeNotSet, OsError::Unknown] {
            assert_eq!(answer(Err(unavailable)), OsAnswer::Unavailable);
        }
    }
}
