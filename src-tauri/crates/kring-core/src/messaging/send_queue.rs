//! The send queue as a clinician needs it: nothing typed is ever lost, and
//! one refused message never holds back the rest of a conversation (UC7).
//!
//! matrix-sdk's persistent send queue does the hard part: a message and its
//! files are in its store before `send` returns, it is respawned at start,
//! and transaction ids make a resend after a crash land once. What it leaves
//! to the app, and this module does:
//! - it disables a room's queue on *any* error. Kring turns it back on when
//!   the connection returns (recoverable errors) or at once (a message the
//!   server refused for good is parked, "wedged", and stays visible as
//!   failed with retry / edit / discard, while later messages go out);
//! - it says nothing to the user. Kring reports each refusal as a
//!   [`SendProblem`] with a stable [`SendFailure`] code.

use std::{sync::Arc, time::Duration};

use matrix_sdk::{
    Client, RoomState,
    ruma::api::error::ErrorKind,
    send_queue::{LocalEchoContent, RoomSendQueueUpdate, SendQueueUpdate},
};
use matrix_sdk_ui::sync_service::{State as SyncState, SyncService};
use serde::Serialize;
use tokio::sync::broadcast;
use tracing::{debug, info, warn};

/// Why a message was not sent, as the UI words it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum SendFailure {
    /// No connection to the homeserver; retried by itself.
    Network,
    /// The server refuses messages this large.
    TooLarge,
    /// This account may not post here (any more).
    Forbidden,
    /// The server asked to slow down; retried by itself.
    RateLimited,
    /// The server had an internal error.
    Server,
    /// Encryption needs attention (an unverified device or identity).
    Encryption,
    Other,
}

impl SendFailure {
    pub fn of(error: &matrix_sdk::Error) -> Self {
        use matrix_sdk::Error;
        match error {
            Error::Http(http) => {
                match http.client_api_error_kind() {
                    Some(ErrorKind::TooLarge) => return Self::TooLarge,
                    Some(ErrorKind::Forbidden) => return Self::Forbidden,
                    Some(ErrorKind::LimitExceeded { .. }) => return Self::RateLimited,
                    _ => {}
                }
                match http.as_client_api_error().map(|e| e.status_code.as_u16()) {
                    Some(413) => Self::TooLarge,
                    Some(403) => Self::Forbidden,
                    Some(429) => Self::RateLimited,
                    Some(500..) => Self::Server,
                    Some(_) => Self::Other,
                    None => Self::Network,
                }
            }
            Error::SendQueueWedgeError(wedge) => Self::of_wedge(wedge),
            Error::ConcurrentRequestFailed => Self::Network,
            other => Self::from_text(&other.to_string()),
        }
    }

    /// A request refused before a restart comes back from the store with
    /// only the error's text.
    fn of_wedge(wedge: &matrix_sdk::QueueWedgeError) -> Self {
        use matrix_sdk::QueueWedgeError as W;
        match wedge {
            W::InsecureDevices { .. } | W::IdentityViolations { .. } | W::CrossVerificationRequired => Self::Encryption,
            W::GenericApiError { msg } => Self::from_text(msg),
            _ => Self::Other,
        }
    }

    fn from_text(text: &str) -> Self {
        if text.contains("M_TOO_LARGE") || text.contains("413") {
            Self::TooLarge
        } else if text.contains("M_FORBIDDEN") || text.contains("403") {
            Self::Forbidden
        } else if text.contains("M_LIMIT_EXCEEDED") {
            Self::RateLimited
        } else {
            Self::Other
        }
    }
}

/// A message the server refused for good. Its conversation's queue is on
/// again; the message itself waits in the conversation for the user.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SendProblem {
    pub room_id: String,
    pub room_name: String,
    pub code: SendFailure,
    /// Technical detail, for "Details" and support.
    pub reason: String,
}

/// A message still in a send queue, for the CLI and for counting.
#[derive(Clone, Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct UnsentMessage {
    pub room_id: String,
    pub transaction_id: String,
    pub body: String,
    /// Set when the server refused it: it waits for retry, edit or discard.
    pub failure: Option<SendFailure>,
}

/// Turns queues back on and reports refusals, for the life of the session.
pub(crate) async fn supervise(client: Client, sync: Arc<SyncService>, problems: broadcast::Sender<SendProblem>) {
    let mut updates = client.send_queue().subscribe();
    let mut sync_state = sync.state();
    let mut backoff = Duration::from_secs(1);
    loop {
        tokio::select! {
            state = sync_state.next() => {
                let Some(state) = state else { break };
                if matches!(state, SyncState::Running) {
                    // The connection is back: every room's queue goes again.
                    client.send_queue().set_enabled(true).await;
                    backoff = Duration::from_secs(1);
                }
            }
            update = updates.recv() => {
                let SendQueueUpdate { room_id, update } = match update {
                    Ok(update) => update,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        warn!("missed {n} send-queue updates");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                let RoomSendQueueUpdate::SendError { error, is_recoverable, .. } = update else { continue };
                let Some(room) = client.get_room(&room_id) else { continue };
                let code = SendFailure::of(&error);
                if is_recoverable {
                    // Offline: sync's offline mode notices the return and the
                    // branch above re-enables. Otherwise (a blip while sync
                    // runs) try again after a growing pause.
                    debug!(?code, "send failed, will retry");
                    let room = room.clone();
                    let running = matches!(sync.state().get(), SyncState::Running);
                    let delay = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    if running {
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            room.send_queue().set_enabled(true);
                        });
                    }
                } else {
                    info!(?code, "a message was refused; the conversation's queue goes on without it");
                    if room.state() == RoomState::Joined {
                        room.send_queue().set_enabled(true);
                    }
                    let room_name = room.cached_display_name().map(|n| n.to_string()).unwrap_or_default();
                    let _ = problems.send(SendProblem {
                        room_id: room_id.to_string(),
                        room_name,
                        code,
                        reason: error.to_string(),
                    });
                }
            }
        }
    }
}

/// Seeds the urgent set from a room's persisted queue (after a restart the
/// SDK's local echoes carry no raw content).
pub(crate) async fn remember_urgent_echoes(room: &matrix_sdk::Room, urgent: &crate::timeline::UrgentUnsent) {
    let Ok((echoes, _)) = room.send_queue().subscribe().await else { return };
    let mut urgent = urgent.lock().unwrap_or_else(|p| p.into_inner());
    for echo in echoes {
        let LocalEchoContent::Event { serialized_event, .. } = &echo.content else { continue };
        if serde_json::from_str::<serde_json::Value>(serialized_event.raw().0.json().get())
            .is_ok_and(|c| crate::urgent::is_urgent(&c))
        {
            urgent.insert(echo.transaction_id.to_string());
        }
    }
}

impl crate::Session {
    /// An own message of this timeline that is not sent yet, by item id.
    async fn unsent_item(
        &self,
        room_id: &str,
        item_id: &str,
    ) -> Result<(matrix_sdk_ui::timeline::EventTimelineItem, matrix_sdk::send_queue::SendHandle), crate::CoreError>
    {
        let timeline = self.timeline(room_id).await?;
        timeline
            .items()
            .await
            .iter()
            .find(|i| i.unique_id().0 == item_id)
            .and_then(|i| i.as_event().cloned())
            .and_then(|e| e.local_echo_send_handle().map(|h| (e, h)))
            .ok_or(crate::CoreError::MessageNotUnsent)
    }

    /// Sends a failed message again (the user's "retry").
    pub async fn retry_send(&self, room_id: &str, item_id: &str) -> Result<(), crate::CoreError> {
        let (_, handle) = self.unsent_item(room_id, item_id).await?;
        handle.unwedge().await.map_err(|e| crate::CoreError::SendFailed(e.to_string()))?;
        self.joined_room(room_id)?.send_queue().set_enabled(true);
        self.audit("send_retry", Some(room_id)).await;
        Ok(())
    }

    /// Removes an unsent message for good (the user's "discard").
    pub async fn discard_unsent(&self, room_id: &str, item_id: &str) -> Result<(), crate::CoreError> {
        let (_, handle) = self.unsent_item(room_id, item_id).await?;
        // `false`: it went out meanwhile, it is no longer ours to discard.
        let aborted = handle.abort().await.map_err(|e| crate::CoreError::Storage(e.to_string()))?;
        if !aborted {
            return Err(crate::CoreError::MessageNotUnsent);
        }
        self.audit("send_discard", Some(room_id)).await;
        Ok(())
    }

    /// Replaces an unsent message's text and sends it again. The urgent
    /// marking and the reply it answers stay.
    pub async fn edit_unsent(&self, room_id: &str, item_id: &str, body: &str) -> Result<(), crate::CoreError> {
        if body.trim().is_empty() {
            return Err(crate::CoreError::BodyMissing);
        }
        let (item, handle) = self.unsent_item(room_id, item_id).await?;
        let message = item.content().as_message().ok_or(crate::CoreError::MessageNotUnsent)?;
        let edited = if crate::attachment::attachments_of(message.msgtype()).is_empty() {
            let urgent = item
                .transaction_id()
                .is_some_and(|t| self.urgent_unsent.lock().unwrap_or_else(|p| p.into_inner()).contains(t.as_str()));
            let reply_to = item.content().in_reply_to().map(|r| r.event_id);
            let raw = crate::attachment::text_content(body.trim_end(), reply_to, urgent)?;
            handle.edit_raw(raw, "m.room.message".to_owned()).await
        } else {
            let caption = crate::attachment::caption_text(body.trim_end(), message.msgtype());
            handle.edit_media_caption(Some(caption), None, None).await
        };
        if !edited.map_err(|e| crate::CoreError::SendFailed(e.to_string()))? {
            return Err(crate::CoreError::MessageNotUnsent);
        }
        handle.unwedge().await.map_err(|e| crate::CoreError::SendFailed(e.to_string()))?;
        self.joined_room(room_id)?.send_queue().set_enabled(true);
        self.audit("send_edit", Some(room_id)).await;
        Ok(())
    }

    /// Every message still waiting or refused, in each room's order.
    pub async fn unsent_messages(&self) -> Result<Vec<UnsentMessage>, crate::CoreError> {
        let echoes =
            self.client.send_queue().local_echoes().await.map_err(|e| crate::CoreError::Storage(e.to_string()))?;
        let mut unsent = Vec::new();
        for (room_id, echoes) in echoes {
            for echo in echoes {
                let LocalEchoContent::Event { serialized_event, send_error, .. } = echo.content else { continue };
                let body = serialized_event.raw().0.get_field::<String>("body").ok().flatten().unwrap_or_default();
                unsent.push(UnsentMessage {
                    room_id: room_id.to_string(),
                    transaction_id: echo.transaction_id.to_string(),
                    body,
                    failure: send_error.as_ref().map(SendFailure::of_wedge),
                });
            }
        }
        Ok(unsent)
    }

    /// Waits (at most `timeout`) until no message is waiting to be sent;
    /// refused ones don't count. Returns what is left (refused messages).
    pub async fn wait_until_flushed(&self, timeout: Duration) -> Result<Vec<UnsentMessage>, crate::CoreError> {
        // Reading the whole queue is not free (a thousand messages offline):
        // read it once, then follow the queue's updates, and read it again
        // only when those say the last one is out (or now and then).
        let mut updates = self.client.send_queue().subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let unsent = self.unsent_messages().await?;
            let mut waiting: std::collections::HashSet<String> =
                unsent.iter().filter(|m| m.failure.is_none()).map(|m| m.transaction_id.clone()).collect();
            if waiting.is_empty() {
                return Ok(unsent);
            }
            let recheck = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let until = recheck.min(deadline);
                match tokio::time::timeout_at(until, updates.recv()).await {
                    Ok(Ok(SendQueueUpdate { update, .. })) => {
                        let done = match &update {
                            RoomSendQueueUpdate::SentEvent { transaction_id, .. }
                            | RoomSendQueueUpdate::CancelledLocalEvent { transaction_id } => Some(transaction_id),
                            RoomSendQueueUpdate::SendError { transaction_id, is_recoverable: false, .. } => {
                                Some(transaction_id)
                            }
                            _ => None,
                        };
                        if let Some(txn) = done {
                            waiting.remove(txn.as_str());
                        }
                        if matches!(update, RoomSendQueueUpdate::NewLocalEvent(_)) || waiting.is_empty() {
                            break;
                        }
                    }
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => break,
                    Ok(Err(broadcast::error::RecvError::Closed)) => break,
                    Err(_) => break,
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(crate::CoreError::HomeserverUnreachable(format!(
                    "{} message(s) still queued; they are sent at the next start",
                    waiting.len()
                )));
            }
        }
    }

    /// Streams messages the server refused for good.
    pub fn watch_send_problems(&self, mut sink: crate::subscription::Sink<SendProblem>) -> crate::Subscription {
        let mut problems = self.send_problems.subscribe();
        crate::Subscription::new(tokio::spawn(async move {
            loop {
                match problems.recv().await {
                    Ok(problem) => {
                        if !sink(problem) {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_after_a_restart_keep_their_code() {
        let wedge = matrix_sdk::QueueWedgeError::GenericApiError {
            msg: "the server returned an error: [413 / M_TOO_LARGE] event too large".into(),
        };
        assert_eq!(SendFailure::of_wedge(&wedge), SendFailure::TooLarge);
        let forbidden = matrix_sdk::QueueWedgeError::GenericApiError { msg: "[403 / M_FORBIDDEN] nope".into() };
        assert_eq!(SendFailure::of_wedge(&forbidden), SendFailure::Forbidden);
        assert_eq!(
            SendFailure::of_wedge(&matrix_sdk::QueueWedgeError::CrossVerificationRequired),
            SendFailure::Encryption
        );
        assert_eq!(SendFailure::of_wedge(&matrix_sdk::QueueWedgeError::MissingMediaContent), SendFailure::Other);
    }
}
