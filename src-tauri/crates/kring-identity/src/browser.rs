//! Opening a URL in the user's own browser (RFC 8252: native apps sign in
//! through the system browser, never an embedded webview, so the IdP's session
//! and password manager are the user's own).

use std::process::{Command, Stdio};

use tracing::debug;
use url::Url;

/// Where a sign-in page is shown. The app and the CLI use [`SystemBrowser`];
/// it is a trait so the core never depends on a platform.
pub trait Browser: Send + Sync {
    fn open(&self, url: &Url) -> Result<(), String>;
}

/// The platform's default browser, or the command in `KRING_BROWSER` (the URL
/// is appended as its last argument), which administrators use to pick a
/// browser and the tests use to put a scripted user in front of the IdP.
#[derive(Clone, Debug, Default)]
pub struct SystemBrowser {
    command: Option<String>,
}

impl SystemBrowser {
    /// Uses `command` (whitespace-separated) instead of the platform default.
    pub fn with_command(command: impl Into<String>) -> Self {
        Self { command: Some(command.into()) }
    }

    /// `KRING_BROWSER` when set, the platform default otherwise.
    pub fn from_env() -> Self {
        Self { command: std::env::var("KRING_BROWSER").ok().filter(|c| !c.trim().is_empty()) }
    }

    fn argv(&self, url: &Url) -> Vec<String> {
        let mut argv: Vec<String> = match &self.command {
            Some(c) => c.split_whitespace().map(str::to_owned).collect(),
            None if cfg!(target_os = "macos") => vec!["open".into()],
            // `start` treats its first quoted argument as a window title.
            None if cfg!(windows) => vec!["cmd".into(), "/C".into(), "start".into(), String::new()],
            None => vec!["xdg-open".into()],
        };
        argv.push(url.to_string());
        argv
    }
}

impl Browser for SystemBrowser {
    fn open(&self, url: &Url) -> Result<(), String> {
        let argv = self.argv(url);
        debug!(program = %argv[0], "opening the sign-in page in the browser");
        // Not awaited: the browser lives on after it returns control, and the
        // loopback redirect, not its exit status, says how sign-in went.
        Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map(drop)
            .map_err(|e| format!("cannot start the browser ({}): {e}", argv[0]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_command_gets_the_url_last() {
        let url = Url::parse("http://127.0.0.1:1/auth?x=1").unwrap();
        let argv = SystemBrowser::with_command("python3  idp_browser.py --quiet").argv(&url);
        assert_eq!(argv, ["python3", "idp_browser.py", "--quiet", "http://127.0.0.1:1/auth?x=1"]);
    }

    #[test]
    fn a_missing_browser_is_an_error_not_a_panic() {
        let url = Url::parse("http://127.0.0.1:1/").unwrap();
        let err = SystemBrowser::with_command("/nonexistent/kring-browser").open(&url).unwrap_err();
        assert!(err.contains("/nonexistent/kring-browser"), "{err}");
    }
}
