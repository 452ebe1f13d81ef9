//! Verifying a new device with one the person already has: the new device
//! asks, the other accepts, both show the same seven emoji, and the person
//! confirms on both. matrix-sdk runs the protocol (SAS, then the gossip of
//! the cross-signing and backup secrets to the new device); this module only
//! turns its states into steps a person can follow.

use futures_util::StreamExt;
use matrix_sdk::encryption::verification::{SasState, SasVerification, VerificationRequest, VerificationRequestState};
use matrix_sdk::ruma::events::key::verification::{cancel::CancelCode, request::ToDeviceKeyVerificationRequestEvent};
use serde::Serialize;
use tracing::{debug, info};

use crate::{
    CoreError, Session,
    subscription::{Sink, Subscription},
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type)]
pub struct VerificationEmoji {
    pub symbol: String,
    /// The spec's English name; the UI translates it.
    pub description: String,
}

/// Where a verification stands, for the dialog on either device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(tag = "step", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum VerificationStep {
    /// This device asked the person's other devices; none has answered yet.
    Waiting { flow_id: String },
    /// Another device of this person asks this one to verify it.
    Requested { flow_id: String, device_id: String, display_name: Option<String> },
    /// Both sides agreed; the emoji are being computed.
    Accepted { flow_id: String },
    /// Compare these with the other device, then confirm or say they differ.
    Compare { flow_id: String, emojis: Vec<VerificationEmoji>, decimals: [u16; 3] },
    /// Confirmed here; waiting for the other device to confirm.
    Confirmed { flow_id: String },
    /// Both confirmed: the new device is cross-signed and receives the keys.
    Done { flow_id: String },
    /// `mismatch`: the emoji (or keys) did not match, a possible attack, not
    /// just a stop; `reason` is the SDK's English text, for the details.
    Cancelled { flow_id: String, reason: String, by_this_device: bool, mismatch: bool },
}

impl VerificationStep {
    fn is_final(&self) -> bool {
        matches!(self, Self::Done { .. } | Self::Cancelled { .. })
    }
}

fn cancelled(flow_id: &str, info: &matrix_sdk::encryption::verification::CancelInfo) -> VerificationStep {
    VerificationStep::Cancelled {
        flow_id: flow_id.to_owned(),
        reason: info.reason().to_owned(),
        by_this_device: info.cancelled_by_us(),
        mismatch: matches!(info.cancel_code(), CancelCode::MismatchedSas | CancelCode::KeyMismatch),
    }
}

fn sas_step(flow_id: &str, state: &SasState) -> Option<VerificationStep> {
    let flow_id = flow_id.to_owned();
    Some(match state {
        SasState::Created { .. } | SasState::Started { .. } | SasState::Accepted { .. } => {
            VerificationStep::Accepted { flow_id }
        }
        SasState::KeysExchanged { emojis, decimals } => VerificationStep::Compare {
            flow_id,
            emojis: emojis
                .as_ref()
                .map(|e| {
                    e.emojis
                        .iter()
                        .map(|e| VerificationEmoji {
                            symbol: e.symbol.to_owned(),
                            description: e.description.to_owned(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            decimals: [decimals.0, decimals.1, decimals.2],
        },
        SasState::Confirmed => VerificationStep::Confirmed { flow_id },
        SasState::Done { .. } => VerificationStep::Done { flow_id },
        SasState::Cancelled(info) => cancelled(&flow_id, info),
    })
}

/// Follows one request to its end, starting the emoji flow on the device
/// that asked and accepting it on the other.
async fn drive(request: VerificationRequest, mut sink: Sink<VerificationStep>) {
    let flow_id = request.flow_id().to_owned();
    let mut changes = request.changes();
    let mut state = request.state();
    loop {
        let step = match &state {
            VerificationRequestState::Created { .. } => Some(VerificationStep::Waiting { flow_id: flow_id.clone() }),
            VerificationRequestState::Requested { other_device_data, .. } => Some(VerificationStep::Requested {
                flow_id: flow_id.clone(),
                device_id: other_device_data.device_id().to_string(),
                display_name: other_device_data.display_name().map(ToOwned::to_owned),
            }),
            VerificationRequestState::Ready { .. } => {
                if request.we_started()
                    && let Err(e) = request.start_sas().await
                {
                    debug!("could not start the emoji verification: {e}");
                }
                Some(VerificationStep::Accepted { flow_id: flow_id.clone() })
            }
            VerificationRequestState::Transitioned { verification } => {
                if let Some(sas) = verification.clone().sas() {
                    follow_sas(&flow_id, sas, &mut sink).await;
                }
                return;
            }
            VerificationRequestState::Done => Some(VerificationStep::Done { flow_id: flow_id.clone() }),
            VerificationRequestState::Cancelled(info) => Some(cancelled(&flow_id, info)),
        };
        if let Some(step) = step {
            let last = step.is_final();
            if !sink(step) || last {
                return;
            }
        }
        match changes.next().await {
            Some(next) => state = next,
            None => return,
        }
    }
}

async fn follow_sas(flow_id: &str, sas: SasVerification, sink: &mut Sink<VerificationStep>) {
    if !sas.we_started()
        && let Err(e) = sas.accept().await
    {
        debug!("could not accept the emoji verification: {e}");
    }
    let mut changes = sas.changes();
    let mut state = sas.state();
    let mut last_sent = None;
    loop {
        if let Some(step) = sas_step(flow_id, &state)
            && last_sent.as_ref() != Some(&step)
        {
            let last = step.is_final();
            if last && matches!(step, VerificationStep::Done { .. }) {
                info!("device verification done");
            }
            if !sink(step.clone()) || last {
                return;
            }
            last_sent = Some(step);
        }
        match changes.next().await {
            Some(next) => state = next,
            None => return,
        }
    }
}

impl Session {
    async fn own_request(&self, flow_id: &str) -> Result<VerificationRequest, CoreError> {
        let me = self.own_user_id()?;
        self.client
            .encryption()
            .get_verification_request(&me, flow_id)
            .await
            .ok_or_else(|| CoreError::VerificationFailed("no such verification".into()))
    }

    /// On a new device: asks the person's other devices to verify this one.
    /// The steps stream until done or cancelled.
    pub async fn verify_this_device(&self, sink: Sink<VerificationStep>) -> Result<Subscription, CoreError> {
        let me = self.own_user_id()?;
        let encryption = self.client.encryption();
        let _ = encryption.wait_for_e2ee_initialization_tasks().await;
        let identity = encryption
            .get_user_identity(&me)
            .await
            .map_err(|e| CoreError::VerificationFailed(e.to_string()))?
            .ok_or(CoreError::RecoveryNotSetUp)?;
        let request =
            identity.request_verification().await.map_err(|e| CoreError::VerificationFailed(e.to_string()))?;
        self.audit("request_device_verification", None).await;
        Ok(Subscription::new(tokio::spawn(drive(request, sink))))
    }

    /// On a device that is already verified: the requests of the person's
    /// new devices, as they arrive.
    pub fn watch_verification_requests(&self, mut sink: Sink<VerificationStep>) -> Subscription {
        let mut incoming = self.verification_requests.subscribe();
        let client = self.client.clone();
        Subscription::new(tokio::spawn(async move {
            while let Ok(flow_id) = incoming.recv().await {
                let Some(me) = client.user_id() else { return };
                let Some(request) = client.encryption().get_verification_request(me, &flow_id).await else { continue };
                if let VerificationRequestState::Requested { other_device_data, .. } = request.state() {
                    let step = VerificationStep::Requested {
                        flow_id,
                        device_id: other_device_data.device_id().to_string(),
                        display_name: other_device_data.display_name().map(ToOwned::to_owned),
                    };
                    if !sink(step) {
                        return;
                    }
                }
            }
        }))
    }

    /// Accepts another device's request; the steps stream until the end.
    pub async fn accept_verification(
        &self,
        flow_id: &str,
        sink: Sink<VerificationStep>,
    ) -> Result<Subscription, CoreError> {
        let request = self.own_request(flow_id).await?;
        if let Some(info) = request.cancel_info() {
            return Err(CoreError::VerificationCancelled(info.reason().to_owned()));
        }
        request.accept().await.map_err(|e| CoreError::VerificationFailed(e.to_string()))?;
        Ok(Subscription::new(tokio::spawn(drive(request, sink))))
    }

    /// The person compared the emoji: they match (`true`) or they don't.
    pub async fn confirm_verification(&self, flow_id: &str, emojis_match: bool) -> Result<(), CoreError> {
        let request = self.own_request(flow_id).await?;
        let sas = match request.state() {
            VerificationRequestState::Transitioned { verification } => verification.sas(),
            VerificationRequestState::Cancelled(info) => {
                return Err(CoreError::VerificationCancelled(info.reason().to_owned()));
            }
            _ => None,
        }
        .ok_or_else(|| CoreError::VerificationFailed("nothing to compare yet".into()))?;
        let result = if emojis_match { sas.confirm().await } else { sas.mismatch().await };
        result.map_err(|e| CoreError::VerificationFailed(e.to_string()))?;
        self.audit(if emojis_match { "confirm_device_verification" } else { "reject_device_verification" }, None).await;
        Ok(())
    }

    /// After a verification that verified this device: waits (up to
    /// `timeout`) for the secrets the other device sends, so that the key
    /// backup opens, then restores the care-team links from the vault.
    /// Returns how many links came back.
    pub async fn finish_verification(&self, timeout: std::time::Duration) -> Result<usize, CoreError> {
        let backups = self.client.encryption().backups();
        let opened = tokio::time::timeout(timeout, async {
            while !backups.are_enabled().await {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        })
        .await;
        if opened.is_err() {
            return Err(CoreError::VerificationFailed("the other device sent no backup key".into()));
        }
        self.restore_client_links().await
    }

    pub async fn cancel_verification(&self, flow_id: &str) -> Result<(), CoreError> {
        let request = self.own_request(flow_id).await?;
        request.cancel().await.map_err(|e| CoreError::VerificationFailed(e.to_string()))
    }
}

/// Forwards the flow ids of verification requests from the person's own
/// devices; other people's requests are not part of Kring's flows.
pub(crate) fn forward_requests(client: &matrix_sdk::Client, to: tokio::sync::broadcast::Sender<String>) {
    client.add_event_handler(move |event: ToDeviceKeyVerificationRequestEvent, client: matrix_sdk::Client| {
        let to = to.clone();
        async move {
            if client.user_id() == Some(&*event.sender) {
                let _ = to.send(event.content.transaction_id.to_string());
            }
        }
    });
}
