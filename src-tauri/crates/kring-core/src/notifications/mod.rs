//! Desktop notifications (001 UC7): who wrote in which conversation, never
//! the message text unless the user asks; urgent messages loud and repeated
//! until read.
//!
//! What notifies is decided by the account's push rules, evaluated by the SDK
//! after decryption (the homeserver cannot read encrypted content): mentions
//! and Kring's urgent rule highlight, per-conversation modes are the SDK's
//! room rules. Kring adds one choice of its own: an urgent message notifies
//! even in a muted conversation, because muting is for chatter, not for a
//! colleague asking for help.
//!
//! The OS side is a [`Notifier`]; `desktop_notifier::DesktopNotifier` is
//! notify-rust (D-Bus `org.freedesktop.Notifications` on Linux).

pub mod desktop_notifier;
pub mod push;

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures_util::future::BoxFuture;
use matrix_sdk::{
    Room,
    notification_settings::RoomNotificationMode,
    ruma::{
        MilliSecondsSinceUnixEpoch, OwnedEventId, OwnedUserId, UserId,
        api::client::receipt::create_receipt::v3::ReceiptType as SendReceiptType,
        events::receipt::{ReceiptThread, ReceiptType},
        serde::Raw,
    },
    sync::Notification,
};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::{CoreError, Session, Subscription, subscription::Sink};

const SETTINGS_KEY: &str = "notification_settings";
/// Events older than this when they reach the device are history (a first
/// sync, a long time offline): the unread counts show them, a pop-up not.
const TOO_OLD: Duration = Duration::from_secs(15 * 60);
/// How long a message whose room key has not come yet waits for it before
/// Kring gives up notifying it (the unread count still shows it).
const KEY_WAIT: Duration = Duration::from_secs(10 * 60);
/// How long a shown notification is withdrawn when its message is read.
const WATCH_READ_FOR: Duration = Duration::from_secs(30 * 60);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NotificationSettings {
    /// Show the message text in notifications. Off by default: a
    /// notification is on screen (or a lock screen) for anyone to read.
    pub show_message_text: bool,
    /// An urgent message not read this long after it arrived notifies again.
    pub repeat_after_seconds: u32,
    /// How many times an unread urgent message is notified again.
    pub repeat_count: u32,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self { show_message_text: false, repeat_after_seconds: 120, repeat_count: 3 }
    }
}

/// A conversation's notification setting (stored as push rules, so it
/// follows the user to every device).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum NotificationMode {
    All,
    MentionsAndUrgent,
    /// Nothing but urgent messages.
    Mute,
}

impl From<RoomNotificationMode> for NotificationMode {
    fn from(mode: RoomNotificationMode) -> Self {
        match mode {
            RoomNotificationMode::AllMessages => Self::All,
            RoomNotificationMode::MentionsAndKeywordsOnly => Self::MentionsAndUrgent,
            RoomNotificationMode::Mute => Self::Mute,
        }
    }
}

impl From<NotificationMode> for RoomNotificationMode {
    fn from(mode: NotificationMode) -> Self {
        match mode {
            NotificationMode::All => Self::AllMessages,
            NotificationMode::MentionsAndUrgent => Self::MentionsAndKeywordsOnly,
            NotificationMode::Mute => Self::Mute,
        }
    }
}

/// What the OS is asked to show.
#[derive(Clone, Debug, PartialEq)]
pub struct DesktopNotification {
    pub summary: String,
    pub body: String,
    pub urgent: bool,
    /// Replace this earlier notification (a repeat) instead of adding one.
    pub replaces: Option<u32>,
}

/// What happened to a notification, for the app and the CLI.
#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum NotificationEvent {
    Shown {
        room_id: String,
        event_id: String,
        urgent: bool,
    },
    /// An unread urgent message, notified again (`repeat` from 1).
    Repeated {
        room_id: String,
        event_id: String,
        repeat: u32,
    },
    /// Read (on any device): the notification was taken away.
    Withdrawn {
        room_id: String,
        event_id: String,
    },
    /// The user clicked it: open the conversation.
    Activated {
        room_id: String,
        event_id: String,
    },
}

/// The OS's notification service.
pub trait Notifier: Send + Sync + 'static {
    /// Shows (or replaces) a notification; resolves to the OS's id for it.
    fn show(&self, notification: DesktopNotification) -> BoxFuture<'static, Result<u32, String>>;
    fn close(&self, id: u32) -> BoxFuture<'static, ()>;
}

/// An incoming message worth notifying, as far as the push rules go.
#[derive(Clone, Debug)]
struct Candidate {
    room: Room,
    event_id: OwnedEventId,
    sender: OwnedUserId,
    timestamp: MilliSecondsSinceUnixEpoch,
    body: String,
    urgent: bool,
    /// The push rules said notify (after decryption).
    rules_notify: bool,
}

impl Session {
    pub async fn notification_settings(&self) -> NotificationSettings {
        match self.store.setting(SETTINGS_KEY).await {
            Ok(Some(json)) => serde_json::from_str(&json).unwrap_or_default(),
            Ok(None) => NotificationSettings::default(),
            Err(e) => {
                warn!("notification settings unreadable: {e}");
                NotificationSettings::default()
            }
        }
    }

    pub async fn set_notification_settings(&self, settings: &NotificationSettings) -> Result<(), CoreError> {
        let settings = NotificationSettings {
            // A repeat every few seconds would be noise, not urgency.
            repeat_after_seconds: settings.repeat_after_seconds.max(1),
            repeat_count: settings.repeat_count.min(20),
            ..settings.clone()
        };
        let json = serde_json::to_string(&settings).map_err(|e| CoreError::Internal(e.to_string()))?;
        self.store.set_setting(SETTINGS_KEY, &json).await.map_err(|e| CoreError::Storage(e.to_string()))
    }

    pub async fn conversation_notification_mode(&self, room_id: &str) -> Result<NotificationMode, CoreError> {
        let room = self.joined_room(room_id)?;
        let settings = self.client.notification_settings().await;
        if let Some(mode) = settings.get_user_defined_room_notification_mode(room.room_id()).await {
            return Ok(mode.into());
        }
        let encrypted = room.latest_encryption_state().await.map(|s| s.is_encrypted()).unwrap_or(true);
        let one_to_one = room.active_members_count() <= 2;
        Ok(settings.get_default_room_notification_mode(encrypted.into(), one_to_one.into()).await.into())
    }

    pub async fn set_conversation_notification_mode(
        &self,
        room_id: &str,
        mode: NotificationMode,
    ) -> Result<(), CoreError> {
        let room = self.joined_room(room_id)?;
        self.client
            .notification_settings()
            .await
            .set_room_notification_mode(room.room_id(), mode.into())
            .await
            .map_err(|e| CoreError::Internal(format!("notification setting: {e}")))?;
        if mode == NotificationMode::Mute {
            // Muting adds a rule above the urgent one; urgent goes back on top.
            crate::urgent::put_rule_on_top(&self.client).await?;
        }
        self.audit_detail("notification_mode", Some(room_id), Some(&format!("{mode:?}"))).await;
        Ok(())
    }

    /// Marks a conversation read up to its latest message on this account
    /// (a public read receipt, so other devices withdraw their notifications).
    pub async fn mark_read(&self, room_id: &str) -> Result<(), CoreError> {
        let timeline = self.timeline(room_id).await?;
        // Private unless the organisation made them public (compliance::privacy).
        let receipt =
            if self.privacy().public_read_receipts { SendReceiptType::Read } else { SendReceiptType::ReadPrivate };
        timeline.mark_as_read(receipt).await.map_err(CoreError::from)?;
        Ok(())
    }

    /// Shows desktop notifications until the subscription is dropped.
    /// `activations` carries the ids of notifications the user clicked.
    pub fn start_notifications(
        &self,
        notifier: Arc<dyn Notifier>,
        mut activations: mpsc::UnboundedReceiver<u32>,
        mut sink: Sink<NotificationEvent>,
    ) -> Subscription {
        let mut incoming = self.notifications.subscribe();
        let own_user = self.client.user_id().map(ToOwned::to_owned);
        let store = self.store.clone();
        let locked = self.app_lock.locked_flag();
        Subscription::new(tokio::spawn(async move {
            let Some(own_user) = own_user else { return };
            let (events_tx, mut events) = mpsc::unbounded_channel::<NotificationEvent>();
            // Which shown notification is which message, for activations.
            let shown: Arc<std::sync::Mutex<HashMap<u32, (String, String)>>> = Default::default();
            let mut running = Vec::new();
            let mut seen = Seen::default();
            loop {
                tokio::select! {
                    incoming = incoming.recv() => {
                        let (notification, room) = match incoming {
                            Ok(n) => n,
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                                warn!("missed {n} notifications");
                                continue;
                            }
                            Err(_) => break,
                        };
                        let id = match &notification.event {
                            matrix_sdk::deserialized_responses::RawAnySyncOrStrippedTimelineEvent::Sync(raw) => {
                                raw.get_field::<String>("event_id").ok().flatten()
                            }
                            _ => None,
                        };
                        if !id.is_some_and(|id| seen.first(&id)) {
                            continue;
                        }
                        let notifier = notifier.clone();
                        let events_tx = events_tx.clone();
                        let shown = shown.clone();
                        let own_user = own_user.clone();
                        let store = store.clone();
                        let locked = locked.clone();
                        running.retain(|t: &tokio::task::JoinHandle<()>| !t.is_finished());
                        running.push(tokio::spawn(async move {
                            let Some(candidate) = candidate(notification, room, &own_user).await else { return };
                            let settings = load_settings(&store).await;
                            notify(candidate, settings, &locked, notifier, events_tx, shown).await;
                        }));
                    }
                    id = activations.recv() => {
                        let Some(id) = id else { continue };
                        let entry = shown.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                        if let Some((room_id, event_id)) = entry
                            && !sink(NotificationEvent::Activated { room_id, event_id }) {
                                break;
                            }
                    }
                    event = events.recv() => {
                        let Some(event) = event else { break };
                        if !sink(event) {
                            break;
                        }
                    }
                }
            }
            running.iter().for_each(|t| t.abort());
        }))
    }
}

async fn load_settings(store: &kring_store::Store) -> NotificationSettings {
    match store.setting(SETTINGS_KEY).await {
        Ok(Some(json)) => serde_json::from_str(&json).unwrap_or_default(),
        _ => NotificationSettings::default(),
    }
}

/// Decides from the SDK's notification whether this is a message to show.
async fn candidate(notification: Notification, room: Room, own_user: &UserId) -> Option<Candidate> {
    use matrix_sdk::deserialized_responses::RawAnySyncOrStrippedTimelineEvent as R;
    let R::Sync(raw) = notification.event else { return None };
    let sender = raw.get_field::<OwnedUserId>("sender").ok().flatten()?;
    if sender == own_user {
        return None;
    }
    let event_id = raw.get_field::<OwnedEventId>("event_id").ok().flatten()?;
    let timestamp = raw.get_field::<MilliSecondsSinceUnixEpoch>("origin_server_ts").ok().flatten()?;
    let age = u64::from(MilliSecondsSinceUnixEpoch::now().0).saturating_sub(u64::from(timestamp.0));
    if Duration::from_millis(age) > TOO_OLD {
        return None;
    }
    let mut actions = notification.actions;
    let mut raw = raw;
    if raw.get_field::<String>("type").ok().flatten().as_deref() == Some("m.room.encrypted") {
        // The room key can arrive a moment after the message (another sync
        // loop brings it): try again for a while, then give up quietly.
        let (decrypted, decrypted_actions) = decrypt(&room, &raw).await?;
        raw = decrypted;
        actions = decrypted_actions;
    }
    if raw.get_field::<String>("type").ok().flatten().as_deref() != Some("m.room.message") {
        return None;
    }
    let content = raw.get_field::<serde_json::Value>("content").ok().flatten()?;
    let body = content.get("body").and_then(|b| b.as_str()).unwrap_or_default();
    Some(Candidate {
        room,
        event_id,
        sender,
        timestamp,
        body: strip_fallback(body).to_owned(),
        urgent: crate::urgent::is_urgent(&content),
        rules_notify: actions.iter().any(|a| a.should_notify()),
    })
}

async fn decrypt(
    room: &Room,
    raw: &Raw<matrix_sdk::ruma::events::AnySyncTimelineEvent>,
) -> Option<(Raw<matrix_sdk::ruma::events::AnySyncTimelineEvent>, Vec<matrix_sdk::ruma::push::Action>)> {
    use futures_util::StreamExt;
    // Subscribe before the first try, so a key arriving in between counts.
    let mut keys = room.client().encryption().room_keys_received_stream().await;
    let push_ctx = room.push_context().await.ok().flatten();
    let deadline = tokio::time::Instant::now() + KEY_WAIT;
    loop {
        if let Ok(event) = room.decrypt_event(raw.cast_ref_unchecked(), push_ctx.as_ref()).await
            && !event.kind.is_utd()
        {
            let actions = event.push_actions().map(<[_]>::to_vec).unwrap_or_default();
            return Some((event.raw().clone(), actions));
        }
        // The key comes with another sync loop, or from key backup or a
        // forward: try again whenever keys arrive (and now and then).
        let next = tokio::time::Instant::now() + Duration::from_secs(10);
        let wake = next.min(deadline);
        match keys.as_mut() {
            Some(keys) => {
                let _ = tokio::time::timeout_at(wake, keys.next()).await;
            }
            None => tokio::time::sleep_until(wake).await,
        }
        if tokio::time::Instant::now() >= deadline {
            debug!("a notified message stayed undecryptable");
            return None;
        }
    }
}

/// The file names other clients see after a gallery's text.
fn strip_fallback(body: &str) -> &str {
    body.split_once("\n\n📎 ").map_or(body, |(text, _)| text)
}

/// Whether this account has read the message, on any of its devices.
async fn is_read(room: &Room, own_user: &UserId, event_id: &OwnedEventId, ts: MilliSecondsSinceUnixEpoch) -> bool {
    for receipt_type in [ReceiptType::Read, ReceiptType::ReadPrivate] {
        for thread in [ReceiptThread::Unthreaded, ReceiptThread::Main] {
            if let Ok(Some((read_up_to, receipt))) =
                room.load_user_receipt(receipt_type.clone(), thread, own_user).await
                && (&read_up_to == event_id || receipt.ts.is_some_and(|t| t >= ts))
            {
                return true;
            }
        }
    }
    false
}

/// While Kring is locked a notification names no one and no subject: the
/// screen may be in view of anyone.
fn notification_for(
    candidate: &Candidate,
    sender_name: &str,
    settings: &NotificationSettings,
    locked: bool,
) -> DesktopNotification {
    if locked {
        let (summary, body) =
            if candidate.urgent { ("Urgent bericht in Kring", "Urgent bericht") } else { ("Kring", "Nieuw bericht") };
        return DesktopNotification {
            summary: summary.into(),
            body: body.into(),
            urgent: candidate.urgent,
            replaces: None,
        };
    }
    // A sensitive conversation keeps its subject and its text off the screen:
    // the subject alone may say what the client has.
    let sensitive = crate::conversation::is_sensitive(&candidate.room);
    let room_name = if sensitive {
        crate::conversation::SENSITIVE_TOPIC.to_owned()
    } else {
        candidate.room.cached_display_name().map(|n| n.to_string()).unwrap_or_default()
    };
    let summary = if candidate.urgent {
        format!("Urgent: {sender_name} in {room_name}")
    } else {
        format!("{sender_name} in {room_name}")
    };
    let body = if settings.show_message_text && !sensitive && !candidate.body.is_empty() {
        candidate.body.clone()
    } else if candidate.urgent {
        "Urgent bericht".to_owned()
    } else {
        "Nieuw bericht".to_owned()
    };
    DesktopNotification { summary, body, urgent: candidate.urgent, replaces: None }
}

async fn notify(
    candidate: Candidate,
    settings: NotificationSettings,
    locked: &std::sync::atomic::AtomicBool,
    notifier: Arc<dyn Notifier>,
    events: mpsc::UnboundedSender<NotificationEvent>,
    shown: Arc<std::sync::Mutex<HashMap<u32, (String, String)>>>,
) {
    if !candidate.rules_notify && !candidate.urgent {
        return;
    }
    let own_user = candidate.room.own_user_id().to_owned();
    if is_read(&candidate.room, &own_user, &candidate.event_id, candidate.timestamp).await {
        return;
    }
    let sender_name = match candidate.room.get_member_no_sync(&candidate.sender).await {
        Ok(Some(member)) => member.name().to_owned(),
        _ => candidate.sender.to_string(),
    };
    let room_id = candidate.room.room_id().to_string();
    let event_id = candidate.event_id.to_string();
    let locked_now = || locked.load(std::sync::atomic::Ordering::SeqCst);
    let notification = notification_for(&candidate, &sender_name, &settings, locked_now());
    let id = match notifier.show(notification.clone()).await {
        Ok(id) => id,
        Err(e) => {
            warn!("the desktop did not take the notification: {e}");
            return;
        }
    };
    shown.lock().unwrap_or_else(|p| p.into_inner()).insert(id, (room_id.clone(), event_id.clone()));
    let _ = events.send(NotificationEvent::Shown {
        room_id: room_id.clone(),
        event_id: event_id.clone(),
        urgent: candidate.urgent,
    });
    let read = || is_read(&candidate.room, &own_user, &candidate.event_id, candidate.timestamp);
    let withdraw = async |id: u32| {
        notifier.close(id).await;
        shown.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        let _ = events.send(NotificationEvent::Withdrawn { room_id: room_id.clone(), event_id: event_id.clone() });
    };
    let repeats = if candidate.urgent { settings.repeat_count } else { 0 };
    let interval = Duration::from_secs(settings.repeat_after_seconds.max(1).into());
    for repeat in 1..=repeats {
        if wait_until_read(read, interval).await {
            withdraw(id).await;
            return;
        }
        // Locked since? The repeat names no one either.
        let mut notification = notification_for(&candidate, &sender_name, &settings, locked_now());
        notification.replaces = Some(id);
        if let Err(e) = notifier.show(notification.clone()).await {
            warn!("the desktop did not take the repeated notification: {e}");
            return;
        }
        let _ =
            events.send(NotificationEvent::Repeated { room_id: room_id.clone(), event_id: event_id.clone(), repeat });
    }
    if wait_until_read(read, WATCH_READ_FOR).await {
        withdraw(id).await;
    }
}

/// Polls the local receipt store (sync keeps it current) until the message
/// is read or `limit` passes; `true` when read.
async fn wait_until_read<F, Fut>(read: F, limit: Duration) -> bool
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if read().await {
            return true;
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return false;
        }
        tokio::time::sleep((deadline - now).min(Duration::from_millis(500))).await;
    }
}

/// Hands incoming notifications from the SDK to whoever shows them.
pub(crate) fn forward(
    client: &matrix_sdk::Client,
    to: tokio::sync::broadcast::Sender<(Notification, Room)>,
) -> BoxFuture<'static, ()> {
    let client = client.clone();
    Box::pin(async move {
        let undecryptable = to.clone();
        client
            .register_notification_handler(move |notification, room, _| {
                let to = to.clone();
                async move {
                    let _ = to.send((notification, room));
                }
            })
            .await;
        // A message whose room key comes later was judged by the push rules
        // while still encrypted: in a conversation set to mentions or mute
        // that is "don't notify", and the handler above never hears of it.
        // Every undecryptable message is therefore handed on as well, to be
        // decrypted again and judged on what it says (`candidate`).
        client.add_event_handler(
            move |event: Raw<matrix_sdk::ruma::events::room::encrypted::OriginalSyncRoomEncryptedEvent>, room: Room| {
                let to = undecryptable.clone();
                async move {
                    let notification = Notification {
                        actions: Vec::new(),
                        event: matrix_sdk::deserialized_responses::RawAnySyncOrStrippedTimelineEvent::Sync(
                            event.cast_unchecked(),
                        ),
                    };
                    let _ = to.send((notification, room));
                }
            },
        );
    })
}

/// Event ids already handed to `notify`: an undecryptable message can come
/// both from the notification handler and as undecryptable.
#[derive(Default)]
struct Seen {
    order: std::collections::VecDeque<String>,
    ids: std::collections::HashSet<String>,
}

impl Seen {
    const KEEP: usize = 512;

    /// `true` the first time an id is offered.
    fn first(&mut self, id: &str) -> bool {
        if !self.ids.insert(id.to_owned()) {
            return false;
        }
        self.order.push_back(id.to_owned());
        if self.order.len() > Self::KEEP
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_handed_on_once_whichever_way_it_came() {
        let mut seen = Seen::default();
        assert!(seen.first("$a"));
        assert!(!seen.first("$a"));
        for n in 0..Seen::KEEP {
            assert!(seen.first(&format!("$n{n}")));
        }
        assert!(seen.ids.len() <= Seen::KEEP, "bounded");
        assert!(seen.first("$a"), "long forgotten");
    }

    #[test]
    fn gallery_fallback_names_stay_out_of_a_notification() {
        assert_eq!(strip_fallback("wondfoto\n\n📎 a.jpg, b.jpg"), "wondfoto");
        assert_eq!(strip_fallback("alleen tekst"), "alleen tekst");
    }

    #[test]
    fn settings_default_to_no_text_and_two_minutes() {
        let s = NotificationSettings::default();
        assert!(!s.show_message_text);
        assert_eq!(s.repeat_after_seconds, 120);
        assert_eq!(s.repeat_count, 3);
    }

    #[tokio::test]
    async fn waiting_for_read_ends_when_read_or_after_the_limit() {
        let calls = std::sync::atomic::AtomicU32::new(0);
        let read_on_third = || async { calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 2 };
        assert!(wait_until_read(read_on_third, Duration::from_secs(5)).await);
        assert!(!wait_until_read(|| async { false }, Duration::from_millis(50)).await);
    }
}
