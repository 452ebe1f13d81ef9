//! Retention (UC8, WGBO): how long a care team's messages are kept. The
//! policy is `m.room.retention` (`max_lifetime`) on the care team's space
//! and on each of its conversations, so the homeserver's purge jobs delete
//! what has expired; an organisation sets the default for new care teams.
//! The SDK does not act on `m.room.retention`, so Kring purges its own
//! caches on the same schedule: a conversation whose cache holds an expired
//! event has its event cache cleared (what the server still keeps comes back
//! on the next pagination), the files of expired messages leave the media
//! cache, and the care-network cache forgets people once their details are
//! older than the shortest lifetime of the teams they are in. Before messages
//! expire, a reminder offers archiving them to the information system.

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures_util::StreamExt;
use matrix_sdk::{
    Client, Room, RoomState,
    ruma::{OwnedEventId, OwnedMxcUri, events::StateEventType},
};
use serde::Serialize;
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::{
    CoreError, Session, Subscription,
    care_team::{permission_err, store_err},
    notifications::{DesktopNotification, Notifier},
};

pub const RETENTION_EVENT: &str = "m.room.retention";
/// How often the running app looks for expired events in its caches.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// How often the running app looks for conversations about to expire.
const REMIND_EVERY: Duration = Duration::from_secs(3600);
/// How long before its messages are deleted a conversation is flagged,
/// unless the organisation says (`retention_reminder_days`).
pub const DEFAULT_REMINDER_DAYS: u32 = 30;
/// Conversations asked about at once (two small requests each).
const CONCURRENCY: usize = 8;

/// What a purge of this device's caches did.
#[derive(Clone, Debug, Default, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PurgeReport {
    /// Rooms whose event cache was cleared.
    pub rooms: Vec<String>,
    /// Expired events that were in those caches.
    pub expired_events: u32,
    /// Files of expired messages dropped from the media cache.
    pub media_files: u32,
    /// People whose directory details the care-network cache forgot.
    pub network_entries: u32,
    /// Care teams this user left whose client this device forgot.
    pub clients_forgotten: u32,
}

/// A conversation whose oldest messages the homeserver deletes soon.
#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ExpiringConversation {
    pub space_id: String,
    pub room_id: String,
    /// The oldest message the homeserver still holds (ms since the epoch).
    pub oldest_message_ms: f64,
    /// When that message is deleted.
    pub expires_ms: f64,
    /// Archived to the information system after everything that expires
    /// within the reminder window: nothing is lost when it goes.
    pub archived: bool,
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
    let mut media = Vec::new();
    let now = now_ms();
    for room in client.joined_rooms() {
        let Some(lifetime) = max_lifetime(&room).await else { continue };
        let mut expired = 0;
        for event in stored_events(client, &room).await {
            let raw = event.raw();
            let ts = raw.get_field::<u64>("origin_server_ts").ok().flatten().unwrap_or(u64::MAX);
            if ts.saturating_add(lifetime) < now {
                expired += 1;
                if let Ok(Some(content)) = raw.get_field::<Value>("content") {
                    media_uris(&content, &mut media);
                }
            }
        }
        if expired > 0 {
            report.rooms.push(room.room_id().to_string());
            report.expired_events += u32::try_from(expired).unwrap_or(u32::MAX);
        }
    }
    if !report.rooms.is_empty()
        && let Err(e) = client.event_cache().clear_all_rooms().await
    {
        warn!("could not purge the event cache: {e}");
        return PurgeReport::default();
    }
    // The files of those messages: the media cache keeps them by URI, with
    // no link to the event, so they go one by one.
    for uri in media {
        match client.media().remove_media_content_for_uri(&uri).await {
            Ok(()) => report.media_files += 1,
            Err(e) => warn!("could not purge a cached file: {e}"),
        }
    }
    report
}

/// Every `mxc://` URI in an event's content (a file, its thumbnail, each
/// item of a gallery), encrypted or not.
fn media_uris(content: &Value, out: &mut Vec<OwnedMxcUri>) {
    match content {
        Value::String(s) if s.starts_with("mxc://") => out.push(s.as_str().into()),
        Value::Array(items) => items.iter().for_each(|v| media_uris(v, out)),
        Value::Object(fields) => fields.values().for_each(|v| media_uris(v, out)),
        _ => {}
    }
}

/// Forgets cached directory details once they are older than the shortest
/// retention of the care teams their person is in, or when that person is in
/// none of this user's care teams any more; and the client of a care team
/// this user left. The care network asks the directory again when opened.
async fn purge_care_network(client: &Client, store: &kring_store::Store, report: &mut PurgeReport) {
    let links = match store.client_links().await {
        Ok(links) => links,
        Err(e) => return warn!("could not read the client links: {e}"),
    };
    // Per person: the shortest lifetime over their teams (None: kept).
    let mut lifetimes: HashMap<String, Option<u64>> = HashMap::new();
    for link in links {
        let Ok(space_id) = matrix_sdk::ruma::OwnedRoomId::try_from(link.space_id.as_str()) else { continue };
        let Some(space) = client.get_room(&space_id) else { continue };
        let state = space.state();
        if state == RoomState::Joined {
            let lifetime = max_lifetime(&space).await;
            for member in crate::care_team::members_of(&space).await.unwrap_or_default() {
                let shortest = lifetimes.entry(member.user_id).or_insert(lifetime);
                *shortest = match (*shortest, lifetime) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
        } else if matches!(state, RoomState::Left | RoomState::Banned)
            && store.forget_client_link(&link.space_id).await.unwrap_or(false)
        {
            report.clients_forgotten += 1;
        }
    }
    let now = i64::try_from(now_ms()).unwrap_or(i64::MAX);
    for (user_id, checked_ms) in store.directory_cache_ages().await.unwrap_or_default() {
        let keep = match lifetimes.get(&user_id) {
            None => false,
            Some(None) => true,
            Some(Some(lifetime)) => checked_ms.saturating_add(i64::try_from(*lifetime).unwrap_or(i64::MAX)) >= now,
        };
        if !keep && store.forget_directory_entry(&user_id).await.unwrap_or(false) {
            report.network_entries += 1;
        }
    }
}

fn now_ms() -> u64 {
    u64::from(matrix_sdk::ruma::MilliSecondsSinceUnixEpoch::now().0)
}

/// The oldest message (not state) the homeserver still holds in a room, as
/// this user may see it: `/messages` forwards from the room's start.
async fn oldest_message_ms(room: &Room) -> Option<u64> {
    use matrix_sdk::ruma::api::{
        Direction,
        client::{filter::RoomEventFilter, message::get_message_events::v3::Request},
    };
    let mut request = Request::new(room.room_id().to_owned(), Direction::Forward);
    request.limit = 1u32.into();
    let mut filter = RoomEventFilter::default();
    filter.types = Some(vec!["m.room.message".to_owned(), "m.room.encrypted".to_owned()]);
    request.filter = filter;
    let answer = room.client().send(request).await.ok()?;
    answer.chunk.first()?.get_field::<u64>("origin_server_ts").ok().flatten()
}

fn archived_key(room_id: &str) -> String {
    format!("archived_to_information_system:{room_id}")
}

fn reminded_key(room_id: &str) -> String {
    format!("retention_reminded:{room_id}")
}

/// Reminds of expiring conversations, hourly, until dropped.
pub fn start_retention_reminders(session: Arc<Session>, notifier: Arc<dyn Notifier>) -> Subscription {
    Subscription::new(tokio::spawn(async move {
        // Let the first sync settle before asking the homeserver.
        tokio::time::sleep(Duration::from_secs(60)).await;
        loop {
            match session.remind_expiring(notifier.as_ref()).await {
                Ok(new) if !new.is_empty() => info!(conversations = new.len(), "retention reminder shown"),
                Ok(_) => {}
                Err(e) => warn!("could not check for expiring conversations: {e}"),
            }
            tokio::time::sleep(REMIND_EVERY).await;
        }
    }))
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
pub(crate) async fn follow_retention(client: Client, store: kring_store::Store) {
    loop {
        tokio::time::sleep(PURGE_EVERY).await;
        let mut report = purge_expired(&client).await;
        purge_care_network(&client, &store, &mut report).await;
        if !report.rooms.is_empty() || report.network_entries > 0 {
            info!(
                rooms = report.rooms.len(),
                events = report.expired_events,
                files = report.media_files,
                network = report.network_entries,
                "expired data purged from this device"
            );
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
        let mut report = purge_expired(&self.client).await;
        purge_care_network(&self.client, &self.store, &mut report).await;
        if !report.rooms.is_empty() || report.network_entries > 0 || report.clients_forgotten > 0 {
            let detail = format!(
                "{} rooms, {} files, {} network entries, {} clients",
                report.rooms.len(),
                report.media_files,
                report.network_entries,
                report.clients_forgotten
            );
            self.audit_detail("purge_expired", None, Some(&detail)).await;
        }
        report
    }

    /// How long ahead of deletion conversations are flagged, from the
    /// organisation's configuration.
    pub fn use_retention_reminder(&self, days: Option<u32>) {
        let ms = u64::from(days.unwrap_or(DEFAULT_REMINDER_DAYS)) * 24 * 3600 * 1000;
        *self.reminder_window.write().unwrap_or_else(|e| e.into_inner()) = ms;
    }

    fn reminder_window_ms(&self) -> u64 {
        *self.reminder_window.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The conversations (of one care team, or all) whose oldest message
    /// the homeserver deletes within the reminder window, soonest first.
    pub async fn expiring_conversations(&self, space_id: Option<&str>) -> Result<Vec<ExpiringConversation>, CoreError> {
        let spaces: Vec<String> = match space_id {
            Some(space) => vec![space.to_owned()],
            None => self
                .store
                .client_links()
                .await
                .map_err(store_err)?
                .into_iter()
                .map(|l| l.space_id)
                .filter(|s| self.joined_room(s).is_ok())
                .collect(),
        };
        let mut rooms = Vec::new();
        for space in spaces {
            let conversations = self.conversation_rooms(&space).await?;
            rooms.extend(
                conversations.into_iter().filter(|r| r.state() == RoomState::Joined).map(|r| (space.clone(), r)),
            );
        }
        let now = now_ms();
        let horizon = now.saturating_add(self.reminder_window_ms());
        let mut found: Vec<ExpiringConversation> = futures_util::stream::iter(rooms)
            .map(|(space_id, room)| async move {
                let lifetime = max_lifetime(&room).await?;
                let oldest = oldest_message_ms(&room).await?;
                let expires = oldest.saturating_add(lifetime);
                if expires > horizon {
                    return None;
                }
                // Everything older than this goes within the window; an
                // archive made after it (or after the last message) holds it all.
                let cutoff = horizon.saturating_sub(lifetime);
                let last = room.latest_event_timestamp().map_or(cutoff, |t| u64::from(t.0));
                let archived_at = self.store.setting(&archived_key(room.room_id().as_str())).await.ok().flatten();
                let archived = archived_at.and_then(|a| a.parse::<u64>().ok()).is_some_and(|a| a >= cutoff.min(last));
                Some(ExpiringConversation {
                    space_id,
                    room_id: room.room_id().to_string(),
                    oldest_message_ms: oldest as f64,
                    expires_ms: expires as f64,
                    archived,
                })
            })
            .buffer_unordered(CONCURRENCY)
            .filter_map(std::future::ready)
            .collect()
            .await;
        found.sort_by(|a, b| a.expires_ms.total_cmp(&b.expires_ms));
        Ok(found)
    }

    /// Notes that a conversation went to the information system now.
    pub(crate) async fn note_archived(&self, room_id: &str) {
        if let Err(e) = self.store.set_setting(&archived_key(room_id), &now_ms().to_string()).await {
            warn!("could not note the archive: {e}");
        }
    }

    /// Shows one desktop notification, naming no one, for expiring and not
    /// yet archived conversations it has not reminded of yet (per oldest
    /// message); returns those.
    pub async fn remind_expiring(&self, notifier: &dyn Notifier) -> Result<Vec<ExpiringConversation>, CoreError> {
        let mut new = Vec::new();
        for c in self.expiring_conversations(None).await?.into_iter().filter(|c| !c.archived) {
            let mark = c.oldest_message_ms.to_string();
            if self.store.setting(&reminded_key(&c.room_id)).await.ok().flatten().as_deref() != Some(mark.as_str()) {
                new.push(c);
            }
        }
        if new.is_empty() {
            return Ok(new);
        }
        let conversations = if new.len() == 1 { "1 gesprek".to_owned() } else { format!("{} gesprekken", new.len()) };
        let notification = DesktopNotification {
            summary: "Bewaartermijn verloopt".into(),
            body: format!(
                "Berichten in {conversations} worden binnenkort verwijderd. Archiveer ze eerst naar het ECD."
            ),
            urgent: false,
            replaces: None,
        };
        notifier.show(notification).await.map_err(CoreError::Internal)?;
        for c in &new {
            let mark = c.oldest_message_ms.to_string();
            self.store.set_setting(&reminded_key(&c.room_id), &mark).await.map_err(store_err)?;
        }
        self.audit_detail("retention_reminder", None, Some(&format!("{} conversations", new.len()))).await;
        Ok(new)
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
