//! The room list: matrix-sdk-ui's `RoomListService`, streamed as Reset-then-diffs.

use matrix_sdk_ui::room_list_service::{RoomListItem, filters::new_filter_non_left};
use serde::Serialize;
use tracing::warn;

use crate::{ListDiff, Session, Subscription, diff::forward, subscription::Sink};

/// Rooms shown at once; the SDK pages further on request.
const PAGE_SIZE: usize = 500;

#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct RoomSummary {
    pub room_id: String,
    pub name: String,
    pub unread_count: u32,
    /// Unread messages that highlight: urgent ones and mentions of this
    /// user (the push rules' highlight, counted on this device after
    /// decryption). What "needs attention" sorts on.
    pub unread_highlights: u32,
    /// Milliseconds since the Unix epoch (a JS number, not a bigint).
    pub last_activity_ms: Option<f64>,
    pub is_encrypted: bool,
    /// A sensitive conversation: show "Vertrouwelijk gesprek", not `name`.
    pub sensitive: bool,
}

impl RoomSummary {
    pub fn from_item(item: &RoomListItem) -> Self {
        let room_id = item.room_id().to_string();
        Self {
            name: item
                .cached_display_name()
                .map(|n| n.to_string())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| room_id.clone()),
            room_id,
            unread_count: u32::try_from(item.num_unread_messages()).unwrap_or(u32::MAX),
            unread_highlights: u32::try_from(item.num_unread_mentions()).unwrap_or(u32::MAX),
            last_activity_ms: item.latest_event_timestamp().map(|ts| u64::from(ts.0) as f64),
            is_encrypted: item.encryption_state().is_encrypted(),
            sensitive: crate::conversation::is_sensitive(item),
        }
    }
}

impl Session {
    /// Streams the joined and invited rooms, most recent first. The first
    /// batch starts with a `Reset`.
    pub fn watch_rooms(&self, mut sink: Sink<Vec<ListDiff<RoomSummary>>>) -> Subscription {
        let service = self.sync_service.room_list_service();
        Subscription::new(tokio::spawn(async move {
            let room_list = match service.all_rooms().await {
                Ok(list) => list,
                Err(e) => {
                    warn!("room list unavailable: {e}");
                    return;
                }
            };
            let (stream, controller) = room_list.entries_with_dynamic_adapters(PAGE_SIZE);
            let non_left = new_filter_non_left();
            // Conversations only: the vault holds the person's client links,
            // and a care team's space is opened from the client list (nobody
            // writes in a space; a message there would have no subject).
            controller.set_filter(Box::new(move |item: &RoomListItem| {
                non_left(item) && !item.is_space() && !crate::devices::is_vault(item)
            }));
            forward(stream, |item| RoomSummary::from_item(&item), &mut sink).await;
        }))
    }
}
