//! Retention (UC8, WGBO): how long a care team's messages are kept. The
//! policy is `m.room.retention` (`max_lifetime`) on the care team's space
//! and on each of its conversations, so the homeserver's purge jobs delete
//! what has expired; an organisation sets the default for new care teams.
//! The SDK does not act on `m.room.retention`, so Kring purges its own
//! caches on the same schedule: a conversation whose cache holds an expired
//! event has its event cache cleared (what the server still keeps comes back
//! on the next pagination).

use std::time::Duration;

use matrix_sdk::{
    Client, Room,
    ruma::{OwnedEventId, events::StateEventType},
};
use serde::Serialize;
use serde_json::json;
use tracing::{info, warn};

use crate::{CoreError, Session, care_team::permission_err};

pub const RETENTION_EVENT: &str = "m.room.retention";
/// How often the running app looks for expired events in its caches.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// What a purge of this device's caches did.
#[derive(Clone, Debug, Default, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PurgeReport {
    /// Rooms whose event cache was cleared.
    pub rooms: Vec<String>,
    /// Expired events that were in those caches.
    pub expired_events: u32,
}

/// A room's `max_lifetime` in milliseconds. Sliding sync does not bring
/// this state, so the homeserver is asked; offline, the local state.
pub async fn max_lifetime(room: &Room) -> Option<u64> {
    use matrix_sdk::ruma::api::client::state::get_state_event_for_key::v3::Request;
    let request = Request::new(room.room_id().to_owned(), StateEventType::from(RETENTION_EVENT), String::new());
    match room.client().send(request).await {
        Ok(answer) => {
            let content: serde_json::Value = serde_json::from_str(answer.event_or_content.get()).ok()?;
            content["max_lifetime"].as_u64()
        }
        // 404: no policy.
        Err(e) if e.client_api_error_kind() == Some(&matrix_sdk::ruma::api::error::ErrorKind::NotFound) => None,
        Err(_) => {
            let raw = room.get_state_event(StateEventType::from(RETENTION_EVENT), "").await.ok()??;
            crate::care_team::state_json(&raw).ok()?["content"]["max_lifetime"].as_u64()
        }
    }
}

/// Drops every cached event once any joined room holds one older than the
/// room's `max_lifetime`, in memory and on disk. The SDK's per-room clear
/// (matrix-sdk 0.18) drops a room's timeline chunks but keeps the event rows
/// themselves (for relations), so it would keep expired text on disk; only
/// the whole-cache clear deletes them. What has not expired comes back from
/// the homeserver on the next pagination.
pub async fn purge_expired(client: &Client) -> PurgeReport {
    let mut report = PurgeReport::default();
    let now = u64::from(matrix_sdk::ruma::MilliSecondsSinceUnixEpoch::now().0);
    for room in client.joined_rooms() {
        let Some(lifetime) = max_lifetime(&room).await else { continue };
        let expired = stored_events(client, &room)
            .await
            .iter()
            .filter_map(|e| e.raw().get_field::<u64>("origin_server_ts").ok().flatten())
            .filter(|ts| ts.saturating_add(lifetime) < now)
            .count();
        if expired > 0 {
            report.rooms.push(room.room_id().to_string());
            report.expired_events += u32::try_from(expired).unwrap_or(u32::MAX);
        }
    }
    if !report.rooms.is_empty()
        && let Err(e) = client.event_cache().clear_all_rooms().await
    {
        warn!("could not purge the event cache: {e}");
        report = PurgeReport::default();
    }
    report
}

/// Every event the cache store holds for a room: its timeline chunks and the
/// events kept beside them.
async fn stored_events(client: &Client, room: &Room) -> Vec<matrix_sdk::deserialized_responses::TimelineEvent> {
    use matrix_sdk::cross_process_lock::MappedCrossProcessLockState;
    let Ok(state) = client.event_cache_store().lock().await else { return Vec::new() };
    let (MappedCrossProcessLockState::Clean(store) | MappedCrossProcessLockState::Dirty(store)) = state;
    store.get_room_events(room.room_id(), None, None).await.unwrap_or_default()
}

/// The running app's purge, hourly.
pub(crate) async fn follow_retention(client: Client) {
    loop {
        tokio::time::sleep(PURGE_EVERY).await;
        let report = purge_expired(&client).await;
        if !report.rooms.is_empty() {
            info!(rooms = report.rooms.len(), events = report.expired_events, "expired events purged from the cache");
        }
    }
}

impl Session {
    /// The retention of a care team or conversation (milliseconds); `None`:
    /// kept until someone deletes it.
    pub async fn retention(&self, room_id: &str) -> Result<Option<u64>, CoreError> {
        Ok(max_lifetime(&self.joined_room(room_id)?).await)
    }

    /// Sets a care team's retention on its space and each of its
    /// conversations (a lead's decision, as the power levels say).
    pub async fn set_retention(&self, space_id: &str, max_lifetime_ms: u64) -> Result<(), CoreError> {
        let space = self.joined_room(space_id)?;
        // A care team is a space; the client link is not needed (another
        // device of the lead may not hold it yet).
        if !space.is_space() {
            return Err(CoreError::NotACareTeam(space_id.to_owned()));
        }
        let content = json!({ "max_lifetime": max_lifetime_ms });
        space.send_state_event_raw(RETENTION_EVENT, "", content.clone()).await.map_err(permission_err)?;
        for room in self.conversation_rooms(space_id).await? {
            room.send_state_event_raw(RETENTION_EVENT, "", content.clone()).await.map_err(permission_err)?;
        }
        self.audit_detail("set_retention", Some(space_id), Some(&format!("{max_lifetime_ms} ms"))).await;
        Ok(())
    }

    /// The organisation's retention for care teams made on this device from
    /// now on (its deployment configuration).
    pub fn use_default_retention(&self, max_lifetime_ms: Option<u64>) {
        *self.default_retention.write().unwrap_or_else(|e| e.into_inner()) = max_lifetime_ms;
    }

    pub(crate) fn default_retention(&self) -> Option<u64> {
        *self.default_retention.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Purges this device's caches of what has expired, now.
    pub async fn purge_expired(&self) -> PurgeReport {
        let report = purge_expired(&self.client).await;
        if !report.rooms.is_empty() {
            self.audit_detail("purge_expired", None, Some(&format!("{} rooms", report.rooms.len()))).await;
        }
        report
    }

    /// Whether this device still holds an event (its cache or its store).
    pub async fn holds_event(&self, room_id: &str, event_id: &str) -> Result<bool, CoreError> {
        let room = self.joined_room(room_id)?;
        let event_id = OwnedEventId::try_from(event_id).map_err(|_| CoreError::UnknownRoom(event_id.to_owned()))?;
        let (cache, _handles) = room.event_cache().await.map_err(|e| CoreError::Internal(e.to_string()))?;
        Ok(cache.find_event(&event_id).await.map_err(|e| CoreError::Internal(e.to_string()))?.is_some())
    }
}

/// The initial state of a new conversation in a care team: the team's retention.
pub(crate) async fn inherited(space: &Room) -> Option<serde_json::Value> {
    max_lifetime(space)
        .await
        .map(|ms| json!({"type": RETENTION_EVENT, "state_key": "", "content": {"max_lifetime": ms}}))
}
