//! A room's timeline: matrix-sdk-ui's `Timeline`, mapped to plain items.
//!
//! Sending goes through `Timeline::send`, i.e. the SDK's persistent send
//! queue: local echo, retries and crash recovery come from the SDK.

use std::sync::Arc;

use matrix_sdk::Room;
use matrix_sdk::ruma::{OwnedUserId, UserId, events::room::power_levels::RoomPowerLevels};
use matrix_sdk_ui::timeline::{
    EventSendState, EventTimelineItem, RoomExt, Timeline, TimelineDetails, TimelineItem as SdkItem,
    TimelineItemContent, TimelineItemKind, VirtualTimelineItem,
};
use serde::Serialize;

use crate::{CoreError, ListDiff, Role, Session, Subscription, subscription::Sink};

#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct TimelineItem {
    /// Stable across updates of the same item (the SDK's unique id).
    pub id: String,
    pub content: TimelineContent,
}

#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum TimelineContent {
    Message {
        event_id: Option<String>,
        sender: String,
        sender_name: String,
        /// The sender's role in this conversation (from its power levels);
        /// none outside care-team conversations, where levels mean no role.
        sender_role: Option<Role>,
        body: String,
        /// Files sent with it (0 to 5), each with its own `allow_destroy`.
        attachments: Vec<crate::Attachment>,
        /// The message this one answers, if it is a reply.
        in_reply_to: Option<String>,
        /// Marked urgent by its sender (`nl.kring.urgent`, see `urgent`).
        urgent: bool,
        timestamp_ms: f64,
        is_own: bool,
        send_state: SendState,
        /// May this user redact it (UC3 `allow_destroy`), from the power levels.
        allow_destroy: bool,
    },
    /// A message that was redacted: shown as such, its content gone.
    Redacted {
        event_id: Option<String>,
        sender: String,
        sender_name: String,
        timestamp_ms: f64,
    },
    DayDivider {
        timestamp_ms: f64,
    },
    ReadMarker,
    /// Anything else, as a kind the UI words in the user's language (and may
    /// hide: room-setting changes mean nothing to a clinician).
    Notice {
        notice: Notice,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Notice {
    /// Someone joined, left, was invited, removed...
    Membership { user_id: String, display_name: Option<String>, change: MembershipNotice },
    /// A conversation's status (archived / active) changed; the current
    /// status is in the conversation's summary.
    ConversationStatusChanged,
    /// Another room setting changed (technical; the event type is kept for details).
    Setting { event_type: String },
    /// An encrypted message whose key has not arrived (yet).
    Undecryptable,
    /// The very start of the conversation.
    ConversationStart,
    /// An event Kring does not show.
    Unsupported,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum MembershipNotice {
    Joined,
    Left,
    Invited,
    InvitationDeclined,
    Removed,
    Other,
}

#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(tag = "state", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum SendState {
    Sent,
    /// Queued (persisted); `upload` while one of its files goes up.
    Sending {
        upload: Option<UploadProgress>,
    },
    /// `recoverable`: the queue retries by itself once the connection is
    /// back. Otherwise the server refused it: the user retries, edits or
    /// discards it, and later messages are not held back.
    Failed {
        code: crate::SendFailure,
        reason: String,
        recoverable: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct UploadProgress {
    /// Which file of the message, from 0.
    pub index: u32,
    pub sent_bytes: f64,
    pub total_bytes: f64,
}

pub(crate) async fn build(room: &Room) -> Result<Timeline, CoreError> {
    room.timeline_builder().build().await.map_err(|e| CoreError::Internal(e.to_string()))
}

fn millis(ts: matrix_sdk::ruma::MilliSecondsSinceUnixEpoch) -> f64 {
    u64::from(ts.0) as f64
}

/// What mapping an item needs to know about the room and the user.
#[derive(Clone, Debug)]
pub struct ItemContext {
    pub own_user: OwnedUserId,
    pub power_levels: Option<RoomPowerLevels>,
    /// Whether the room is a conversation in a care team (has a space parent).
    pub in_care_team: bool,
    /// Transaction ids of own unsent urgent messages: a local echo carries
    /// no raw content to read the marking from.
    pub urgent_unsent: UrgentUnsent,
}

/// Shared between the sending side and every timeline view.
pub type UrgentUnsent = Arc<std::sync::Mutex<std::collections::HashSet<String>>>;

impl ItemContext {
    fn role_of(&self, user: &UserId) -> Option<Role> {
        if !self.in_care_team {
            return None;
        }
        self.power_levels.as_ref().map(|pl| crate::care_team::role_of(pl.for_user(user)))
    }

    fn may_redact(&self, sender: &UserId) -> bool {
        self.power_levels.as_ref().is_some_and(|pl| {
            if sender == self.own_user {
                pl.user_can_redact_own_event(&self.own_user)
            } else {
                pl.user_can_redact_event_of_other(&self.own_user)
            }
        })
    }
}

impl TimelineItem {
    pub fn from_sdk(item: &Arc<SdkItem>, ctx: &ItemContext) -> Self {
        let content = match item.kind() {
            TimelineItemKind::Virtual(VirtualTimelineItem::DateDivider(ts)) => {
                TimelineContent::DayDivider { timestamp_ms: millis(*ts) }
            }
            TimelineItemKind::Virtual(VirtualTimelineItem::ReadMarker) => TimelineContent::ReadMarker,
            TimelineItemKind::Virtual(VirtualTimelineItem::TimelineStart) => {
                TimelineContent::Notice { notice: Notice::ConversationStart }
            }
            TimelineItemKind::Event(event) => event_content(event, ctx),
        };
        Self { id: item.unique_id().0.clone(), content }
    }
}

fn event_content(event: &EventTimelineItem, ctx: &ItemContext) -> TimelineContent {
    let sender_name = match event.sender_profile() {
        TimelineDetails::Ready(profile) => profile.display_name.clone(),
        _ => None,
    }
    .unwrap_or_else(|| event.sender().to_string());
    if event.content().is_redacted() {
        return TimelineContent::Redacted {
            event_id: event.event_id().map(ToString::to_string),
            sender: event.sender().to_string(),
            sender_name,
            timestamp_ms: millis(event.timestamp()),
        };
    }
    let Some(message) = event.content().as_message() else {
        return TimelineContent::Notice { notice: notice(event.content()) };
    };
    let send_state = match event.send_state() {
        None | Some(EventSendState::Sent { .. }) => SendState::Sent,
        Some(EventSendState::NotSentYet { progress }) => SendState::Sending {
            upload: progress.as_ref().map(|p| UploadProgress {
                index: u32::try_from(p.index).unwrap_or(u32::MAX),
                sent_bytes: p.progress.current as f64,
                total_bytes: p.progress.total as f64,
            }),
        },
        Some(EventSendState::SendingFailed { error, is_recoverable }) => SendState::Failed {
            code: crate::SendFailure::of(error),
            reason: error.to_string(),
            recoverable: *is_recoverable,
        },
    };
    let urgent = match (event.original_json(), event.transaction_id()) {
        (Some(raw), _) => crate::urgent::is_urgent_event(raw),
        (None, Some(txn)) => ctx.urgent_unsent.lock().unwrap_or_else(|p| p.into_inner()).contains(txn.as_str()),
        (None, None) => false,
    };
    // Only a message the server has can be redacted.
    let allow_destroy = event.event_id().is_some() && ctx.may_redact(event.sender());
    let attachments: Vec<crate::Attachment> = crate::attachment::attachments_of(message.msgtype())
        .into_iter()
        .map(|(a, _)| crate::Attachment { allow_destroy, ..a })
        .collect();
    TimelineContent::Message {
        event_id: event.event_id().map(ToString::to_string),
        sender: event.sender().to_string(),
        sender_name,
        sender_role: ctx.role_of(event.sender()),
        body: crate::attachment::display_body(message.msgtype(), &attachments),
        attachments,
        in_reply_to: event.content().in_reply_to().map(|r| r.event_id.to_string()),
        urgent,
        timestamp_ms: millis(event.timestamp()),
        is_own: event.is_own(),
        send_state,
        allow_destroy,
    }
}

fn notice(content: &TimelineItemContent) -> Notice {
    use matrix_sdk_ui::timeline::MembershipChange as M;
    match content {
        TimelineItemContent::MembershipChange(change) => Notice::Membership {
            user_id: change.user_id().to_string(),
            display_name: change.display_name(),
            change: match change.change() {
                Some(M::Joined | M::InvitationAccepted) => MembershipNotice::Joined,
                Some(M::Left) => MembershipNotice::Left,
                Some(M::Invited) => MembershipNotice::Invited,
                Some(M::InvitationRejected | M::InvitationRevoked) => MembershipNotice::InvitationDeclined,
                Some(M::Kicked | M::Banned | M::KickedAndBanned) => MembershipNotice::Removed,
                _ => MembershipNotice::Other,
            },
        },
        TimelineItemContent::OtherState(state) => {
            let event_type = state.content().event_type().to_string();
            if event_type == crate::power_levels::STATUS_EVENT {
                Notice::ConversationStatusChanged
            } else {
                Notice::Setting { event_type }
            }
        }
        TimelineItemContent::ProfileChange(_) => Notice::Setting { event_type: "m.room.member".into() },
        c if c.is_unable_to_decrypt() => Notice::Undecryptable,
        _ => Notice::Unsupported,
    }
}

/// Events a conversation shows when it opens, before anyone scrolls.
const FIRST_SCREEN: u16 = 20;

/// Loads older events once when the room opens with fewer than a screen. A
/// homeserver that joined a room over federation holds nothing from before
/// its join until a client paginates, so without this a colleague at the
/// other organisation would open a new conversation and see only "joined",
/// not the message they were invited for. The items arrive as diffs.
async fn fill_first_screen(timeline: &Timeline, gap: Option<u16>) {
    let Some(gap) = gap else { return };
    // A failure here is the same as the user's "load older" failing: the
    // button stays and says so when pressed; nothing is lost.
    if let Err(e) = timeline.paginate_backwards(gap).await {
        tracing::warn!("could not load the first screen of a conversation: {e}");
    }
}

/// How many events short of a first screen the timeline is, unless it
/// already shows the room's start.
fn first_screen_gap(items: &[Arc<SdkItem>]) -> Option<u16> {
    let events = u16::try_from(items.iter().filter(|i| i.as_event().is_some()).count()).unwrap_or(u16::MAX);
    let at_start =
        items.iter().any(|i| matches!(i.kind(), TimelineItemKind::Virtual(VirtualTimelineItem::TimelineStart)));
    (events < FIRST_SCREEN && !at_start).then(|| FIRST_SCREEN - events)
}

/// What items need to know about the room now: its power levels (the SDK's
/// view knows room v12 creators) and whether it sits in a care team.
async fn item_context(room: &Room, own_user: &UserId, urgent_unsent: &UrgentUnsent) -> ItemContext {
    let power_levels = room.power_levels().await.ok();
    let in_care_team = !room
        .get_state_events(matrix_sdk::ruma::events::StateEventType::SpaceParent)
        .await
        .unwrap_or_default()
        .is_empty();
    ItemContext { own_user: own_user.to_owned(), power_levels, in_care_team, urgent_unsent: urgent_unsent.clone() }
}

impl Session {
    /// Streams a room's timeline, Reset first, then diffs. When the room's
    /// power levels change (a role changes, the room is archived, or they
    /// arrive just after joining), roles and `allow_destroy` are recomputed
    /// and, if any item changed, sent as a new Reset.
    pub async fn watch_timeline(
        &self,
        room_id: &str,
        mut sink: Sink<Vec<ListDiff<TimelineItem>>>,
    ) -> Result<Subscription, CoreError> {
        let timeline = self.timeline(room_id).await?;
        let room = self.joined_room(room_id)?;
        self.audit_read("open_conversation", room_id).await;
        let own_user = self.own_user_id()?;
        let urgent_unsent = self.urgent_unsent.clone();
        crate::send_queue::remember_urgent_echoes(&room, &urgent_unsent).await;
        let mut ctx = item_context(&room, &own_user, &urgent_unsent).await;
        Ok(Subscription::new(tokio::spawn(async move {
            use futures_util::StreamExt;
            let (initial, stream) = timeline.subscribe().await;
            futures_util::pin_mut!(stream);
            let mut info = room.subscribe_info();
            // The SDK's items as of the last diff sent: a remap must start
            // from these, not from `timeline.items()`, which may already hold
            // diffs still waiting in `stream` (they would then apply twice).
            let mut sdk_items: Vec<Arc<SdkItem>> = initial.iter().cloned().collect();
            let mut shown: Vec<TimelineItem> = sdk_items.iter().map(|i| TimelineItem::from_sdk(i, &ctx)).collect();
            if !sink(vec![ListDiff::Reset { values: shown.clone() }]) {
                return;
            }
            let fill = fill_first_screen(&timeline, first_screen_gap(&sdk_items));
            futures_util::pin_mut!(fill);
            let mut filling = true;
            loop {
                tokio::select! {
                    () = &mut fill, if filling => filling = false,
                    diffs = stream.next() => {
                        let Some(diffs) = diffs else { break };
                        for diff in diffs.iter().cloned() {
                            ListDiff::from_vector_diff(diff, |item| item).apply(&mut sdk_items);
                        }
                        let batch: Vec<_> = diffs
                            .into_iter()
                            .map(|d| ListDiff::from_vector_diff(d, |item| TimelineItem::from_sdk(&item, &ctx)))
                            .collect();
                        batch.iter().cloned().for_each(|d| d.apply(&mut shown));
                        if !sink(batch) {
                            break;
                        }
                    }
                    changed = info.next() => {
                        if changed.is_none() {
                            break;
                        }
                        ctx = item_context(&room, &own_user, &urgent_unsent).await;
                        let remapped: Vec<TimelineItem> =
                            sdk_items.iter().map(|i| TimelineItem::from_sdk(i, &ctx)).collect();
                        if remapped != shown {
                            shown = remapped;
                            if !sink(vec![ListDiff::Reset { values: shown.clone() }]) {
                                break;
                            }
                        }
                    }
                }
            }
        })))
    }

    /// Redacts a message or attachment, if the power levels allow it.
    pub async fn redact(&self, room_id: &str, event_id: &str) -> Result<(), CoreError> {
        let event_id = matrix_sdk::ruma::OwnedEventId::try_from(event_id)
            .map_err(|_| CoreError::Internal(format!("not an event id: {event_id}")))?;
        let room = self.joined_room(room_id)?;
        // The timeline marks the item redacted when the server echoes it back.
        room.redact(&event_id, None, None).await.map_err(|e| crate::care_team::permission_err(e.into()))?;
        self.audit("redact", Some(room_id)).await;
        Ok(())
    }

    /// Queues a text message; it is persisted before this returns and sent by
    /// the SDK's send queue, also after a restart.
    pub async fn send_text(&self, room_id: &str, body: &str) -> Result<(), CoreError> {
        self.send_message(room_id, body, Vec::new(), None, false).await
    }

    /// Waits (at most `timeout`) until a room's send queue holds no local echo
    /// that is still being sent: what a short-lived process needs before it exits.
    pub async fn wait_for_send_queue(&self, room_id: &str, timeout: std::time::Duration) -> bool {
        let Ok(room) = self.joined_room(room_id) else { return false };
        // The queue's own persisted requests, not the timeline: a local echo
        // reaches the timeline a moment after queueing, and a message with
        // files stays queued while they upload.
        let queue = room.send_queue();
        tokio::time::timeout(timeout, async {
            loop {
                match queue.subscribe().await {
                    Ok((pending, _)) if pending.is_empty() => return,
                    Ok(_) => {}
                    Err(e) => tracing::warn!("send queue unreadable: {e}"),
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
        .await
        .is_ok()
    }

    /// Loads older items; `true` when the start of the room is reached.
    pub async fn paginate_back(&self, room_id: &str, count: u16) -> Result<bool, CoreError> {
        let timeline = self.timeline(room_id).await?;
        timeline.paginate_backwards(count).await.map_err(|e| CoreError::Internal(e.to_string()))
    }
}
