//! Push to mobile devices (001 UC7): an HTTP pusher at the deployment's push
//! gateway. Its format is `event_id_only`, so no message content, sender or
//! room name leaves the homeserver in a push; the app fetches and decrypts
//! the event itself. Urgent messages arrive with priority high (see `urgent`).

use matrix_sdk::ruma::{
    api::client::push::{Pusher, PusherIds, PusherInit, PusherKind},
    push::{HttpPusherData, PushFormat},
};
use serde::{Deserialize, Serialize};

use crate::{CoreError, Session};

/// One registration with a push gateway.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PushRegistration {
    /// The gateway's `/_matrix/push/v1/notify` URL.
    pub gateway_url: String,
    /// The device's token at the platform's push service (FCM, APNs, UnifiedPush).
    pub pushkey: String,
    /// Which app the gateway delivers to, e.g. `nl.kring.mobile`.
    pub app_id: String,
    pub device_name: String,
}

impl Session {
    /// Registers (or updates) this device's pusher.
    pub async fn register_pusher(&self, registration: &PushRegistration) -> Result<(), CoreError> {
        url::Url::parse(&registration.gateway_url)
            .map_err(|e| CoreError::InvalidHomeserver(format!("push gateway: {e}")))?;
        let mut data = HttpPusherData::new(registration.gateway_url.clone());
        data.format = Some(PushFormat::EventIdOnly);
        let pusher: Pusher = PusherInit {
            ids: PusherIds::new(registration.pushkey.clone(), registration.app_id.clone()),
            kind: PusherKind::Http(data),
            app_display_name: "Kring".to_owned(),
            device_display_name: registration.device_name.clone(),
            profile_tag: None,
            lang: "nl".to_owned(),
        }
        .into();
        self.client.pusher().set(pusher, false).await.map_err(CoreError::from)?;
        self.audit("pusher_register", None).await;
        Ok(())
    }

    /// The account's pushers, as the homeserver lists them.
    pub async fn pushers(&self) -> Result<Vec<PushRegistration>, CoreError> {
        use matrix_sdk::ruma::api::client::push::get_pushers;
        let response = self.client.send(get_pushers::v3::Request::new()).await.map_err(CoreError::from)?;
        Ok(response
            .pushers
            .into_iter()
            .filter_map(|p| match p.kind {
                PusherKind::Http(http) => Some(PushRegistration {
                    gateway_url: http.url,
                    pushkey: p.ids.pushkey,
                    app_id: p.ids.app_id,
                    device_name: p.device_display_name,
                }),
                _ => None,
            })
            .collect())
    }

    pub async fn remove_pusher(&self, pushkey: &str, app_id: &str) -> Result<(), CoreError> {
        self.client
            .pusher()
            .delete(PusherIds::new(pushkey.to_owned(), app_id.to_owned()))
            .await
            .map_err(CoreError::from)?;
        self.audit("pusher_remove", None).await;
        Ok(())
    }
}
