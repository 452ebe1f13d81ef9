//! The person's own devices: the list, signing one out (a lost phone), and
//! what this device does when another one signed it out.

use std::time::Duration;

use matrix_sdk::ruma::{
    OwnedDeviceId,
    api::client::uiaa::{AuthData, AuthType, FallbackAcknowledgement, Password, UserIdentifier},
};
use serde::Serialize;
use tracing::info;

use crate::{CoreError, Session};

/// One device of this account, as the homeserver lists it.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct OwnDevice {
    pub device_id: String,
    pub display_name: Option<String>,
    /// When the homeserver last saw it, in ms since the epoch.
    pub last_seen_ms: Option<f64>,
    /// The device this list is shown on.
    pub this_device: bool,
    /// Signed by the account's cross-signing key: it reads the history and
    /// other people's clients trust it.
    pub verified: bool,
}

/// How the person confirms it is them before a device is signed out: the
/// homeserver asks again (user-interactive authentication).
pub enum Reauth<'a> {
    /// Accounts with a password.
    Password(&'a str),
    /// Accounts that sign in through the organisation (SSO): the homeserver's
    /// confirmation page opens in the browser, and Kring waits for it.
    Browser(&'a dyn kring_identity::Browser, Duration),
}

impl Session {
    /// The account's devices, this one first, then the most recently seen.
    pub async fn own_devices(&self) -> Result<Vec<OwnDevice>, CoreError> {
        let me = self.own_user_id()?;
        let this = self.client.device_id().map(ToOwned::to_owned);
        let listed = self.client.devices().await?.devices;
        let encryption = self.client.encryption();
        let mut devices = Vec::with_capacity(listed.len());
        for d in listed {
            let verified = match encryption.get_device(&me, &d.device_id).await {
                Ok(Some(device)) => device.is_cross_signed_by_owner(),
                _ => false,
            };
            devices.push(OwnDevice {
                this_device: this.as_ref() == Some(&d.device_id),
                device_id: d.device_id.to_string(),
                display_name: d.display_name,
                last_seen_ms: d.last_seen_ts.map(|t| f64::from(t.get())),
                verified,
            });
        }
        devices.sort_by(|a, b| {
            b.this_device
                .cmp(&a.this_device)
                .then(b.last_seen_ms.partial_cmp(&a.last_seen_ms).unwrap_or(std::cmp::Ordering::Equal))
        });
        Ok(devices)
    }

    /// Signs another device of this account out on the homeserver: its
    /// session ends, and Kring on it wipes its local data at its next sync.
    pub async fn sign_out_device(&self, device_id: &str, reauth: Reauth<'_>) -> Result<(), CoreError> {
        if self.client.device_id().is_some_and(|d| d.as_str() == device_id) {
            // Signing out this device is "sign out", which also wipes it.
            return Err(CoreError::UnknownDevice(device_id.to_owned()));
        }
        // The homeserver's list is enough here; no trust lookups per device.
        if !self.client.devices().await?.devices.iter().any(|d| d.device_id.as_str() == device_id) {
            return Err(CoreError::UnknownDevice(device_id.to_owned()));
        }
        let ids = [OwnedDeviceId::from(device_id)];
        let uiaa = match self.client.delete_devices(&ids, None).await {
            Ok(_) => return self.signed_out(device_id).await,
            Err(e) => match e.as_uiaa_response() {
                Some(uiaa) => uiaa.clone(),
                None => return Err(e.into()),
            },
        };
        let offers = |t: AuthType| uiaa.flows.iter().any(|f| f.stages.first() == Some(&t));
        match reauth {
            Reauth::Password(password) if offers(AuthType::Password) => {
                let me = self.own_user_id()?;
                let mut auth = Password::new(UserIdentifier::from(me), password.to_owned());
                auth.session = uiaa.session.clone();
                self.client.delete_devices(&ids, Some(AuthData::Password(auth))).await.map_err(|e| {
                    match e.as_uiaa_response() {
                        Some(_) => CoreError::WrongCredentials,
                        None => e.into(),
                    }
                })?;
            }
            Reauth::Browser(browser, timeout) if offers(AuthType::Sso) => {
                let session = uiaa.session.clone().ok_or(CoreError::ReauthenticationRequired)?;
                let mut url = self.client.homeserver();
                url.set_path("/_matrix/client/v3/auth/m.login.sso/fallback/web");
                url.query_pairs_mut().append_pair("session", &session);
                browser.open(&url).map_err(|_| CoreError::ReauthenticationRequired)?;
                // The page gives no answer to the app: ask until the server
                // counts the stage done, as the fallback flow intends.
                let ack = || AuthData::FallbackAcknowledgement(FallbackAcknowledgement::new(session.clone()));
                tokio::time::timeout(timeout, async {
                    loop {
                        match self.client.delete_devices(&ids, Some(ack())).await {
                            Ok(_) => return Ok(()),
                            Err(e) if e.as_uiaa_response().is_some() => {
                                tokio::time::sleep(Duration::from_secs(1)).await;
                            }
                            Err(e) => return Err(CoreError::from(e)),
                        }
                    }
                })
                .await
                .map_err(|_| CoreError::ReauthenticationRequired)??;
            }
            _ => return Err(CoreError::ReauthenticationRequired),
        }
        self.signed_out(device_id).await
    }

    async fn signed_out(&self, device_id: &str) -> Result<(), CoreError> {
        self.audit_detail("sign_out_device", None, Some(device_id)).await;
        info!("signed out another device of this account");
        Ok(())
    }

    /// Whether this device was signed out elsewhere and wiped; changes once.
    pub fn revoked(&self) -> tokio::sync::watch::Receiver<bool> {
        self.revoked.subscribe()
    }
}
