//! A room's timeline: matrix-sdk-ui's `Timeline`, mapped to plain items.
//!
//! Sending goes through `Timeline::send`, i.e. the SDK's persistent send
//! queue: local echo, retries and crash recovery come from the SDK.

use std::sync::Arc;

use matrix_sdk::{
    Room,
    ruma::events::room::message::RoomMessageEventContent,
};
use matrix_sdk_ui::timeline::{
    EventSendState, EventTimelineItem, RoomExt, Timeline, TimelineDetails,
    TimelineItem as SdkItem, TimelineItemContent, TimelineItemKind, VirtualTimelineItem,
};
use serde::Serialize;

use crate::{CoreError, ListDiff, Session, Subscription, diff::forward, subscription::Sink};

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
        body: String,
        timestamp_ms: f64,
        is_own: bool,
        send_state: SendState,
    },
    DayDivider {
        timestamp_ms: f64,
    },
    ReadMarker,
    /// Anything else (membership, room settings, undecryptable): a short
    /// English description for a muted line.
    Notice {
        text: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum SendState {
    Sent,
    Sending,
    Failed { reason: String, recoverable: bool },
}

pub(crate) async fn build(room: &Room) -> Result<Timeline, CoreError> {
    room.timeline_builder().build().await.map_err(|e| CoreError::Internal(e.to_string()))
}

fn millis(ts: matrix_sdk::ruma::MilliSecondsSinceUnixEpoch) -> f64 {
    u64::from(ts.0) as f64
}

impl TimelineItem {
    pub fn from_sdk(item: &Arc<SdkItem>) -> Self {
        let content = match item.kind() {
            TimelineItemKind::Virtual(VirtualTimelineItem::DateDivider(ts)) => {
                TimelineContent::DayDivider { timestamp_ms: millis(*ts) }
            }
            TimelineItemKind::Virtual(VirtualTimelineItem::ReadMarker) => TimelineContent::ReadMarker,
            TimelineItemKind::Virtual(VirtualTimelineItem::TimelineStart) => {
                TimelineContent::Notice { text: "start of the conversation".into() }
            }
            TimelineItemKind::Event(event) => event_content(event),
        };
        Self { id: item.unique_id().0.clone(), content }
    }
}

fn event_content(event: &EventTimelineItem) -> TimelineContent {
    let Some(message) = event.content().as_message() else {
        return TimelineContent::Notice { text: describe(event.content()) };
    };
    let sender_name = match event.sender_profile() {
        TimelineDetails::Ready(profile) => profile.display_name.clone(),
        _ => None,
    }
    .unwrap_or_else(|| event.sender().to_string());
    let send_state = match event.send_state() {
        None | Some(EventSendState::Sent { .. }) => SendState::Sent,
        Some(EventSendState::NotSentYet { .. }) => SendState::Sending,
        Some(EventSendState::SendingFailed { error, is_recoverable }) => {
            SendState::Failed { reason: error.to_string(), recoverable: *is_recoverable }
        }
    };
    TimelineContent::Message {
        event_id: event.event_id().map(ToString::to_string),
        sender: event.sender().to_string(),
        sender_name,
        body: message.body().to_owned(),
        timestamp_ms: millis(event.timestamp()),
        is_own: event.is_own(),
        send_state,
    }
}

fn describe(content: &TimelineItemContent) -> String {
    match content {
        TimelineItemContent::MembershipChange(change) => {
            format!("membership of {} changed", change.user_id())
        }
        TimelineItemContent::ProfileChange(change) => format!("{} changed their profile", change.user_id()),
        TimelineItemContent::OtherState(state) => format!("room setting changed ({})", state.content().event_type()),
        c if c.is_unable_to_decrypt() => "encrypted message that cannot be decrypted yet".into(),
        c if c.is_redacted() => "message deleted".into(),
        _ => "unsupported event".into(),
    }
}

impl Session {
    /// Streams a room's timeline, Reset first, then diffs.
    pub async fn watch_timeline(
        &self,
        room_id: &str,
        mut sink: Sink<Vec<ListDiff<TimelineItem>>>,
    ) -> Result<Subscription, CoreError> {
        let timeline = self.timeline(room_id).await?;
        Ok(Subscription::new(tokio::spawn(async move {
            let (initial, stream) = timeline.subscribe().await;
            let reset = ListDiff::Reset { values: initial.iter().map(TimelineItem::from_sdk).collect() };
            if !sink(vec![reset]) {
                return;
            }
            forward(stream, |item| TimelineItem::from_sdk(&item), &mut sink).await;
        })))
    }

    /// Queues a text message; it is persisted before this returns and sent by
    /// the SDK's send queue, also after a restart.
    pub async fn send_text(&self, room_id: &str, body: &str) -> Result<(), CoreError> {
        if body.trim().is_empty() {
            return Err(CoreError::SendFailed("empty message".into()));
        }
        let timeline = self.timeline(room_id).await?;
        timeline
            .send(RoomMessageEventContent::text_plain(body).into())
            .await
            .map_err(|e| CoreError::SendFailed(e.to_string()))?;
        self.audit("send", Some(room_id)).await;
        Ok(())
    }

    /// Waits (at most `timeout`) until a room's send queue holds no local echo
    /// that is still being sent: what a short-lived process needs before it exits.
    pub async fn wait_for_send_queue(&self, room_id: &str, timeout: std::time::Duration) -> bool {
        let Ok(timeline) = self.timeline(room_id).await else { return false };
        tokio::time::timeout(timeout, async {
            loop {
                let pending = timeline.items().await.iter().any(|item| {
                    item.as_event().and_then(|e| e.send_state()).is_some_and(|s| {
                        matches!(s, EventSendState::NotSentYet { .. })
                    })
                });
                if !pending {
                    return;
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
