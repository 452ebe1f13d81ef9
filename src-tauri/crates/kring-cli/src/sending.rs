//! Sending from the command line: one message, many (stdin lines), and the
//! send queue a killed run left behind (`flush`, `queue`).

use std::{io::BufRead, time::Duration};

use kring_core::{CoreError, ListDiff, NewAttachment, SendState, Session, TimelineContent, TimelineItem};
use tokio::sync::mpsc;

use crate::output::Output;

/// Queues the message in the SDK's send queue, says so (a kill after this
/// line loses nothing), then waits for its event id.
#[allow(clippy::too_many_arguments)]
pub async fn send_and_confirm(
    session: &Session,
    room_id: &str,
    text: &str,
    attachments: Vec<NewAttachment>,
    reply_to: Option<&str>,
    urgent: bool,
    timeout: Duration,
    out: &Output,
) -> Result<String, CoreError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _sub = session.watch_timeline(room_id, Box::new(move |batch| tx.send(batch).is_ok())).await?;
    let mut items: Vec<TimelineItem> = Vec::new();
    // Items present before sending are not ours to wait for.
    if let Some(batch) = rx.recv().await {
        batch.into_iter().for_each(|d: ListDiff<TimelineItem>| d.apply(&mut items));
    }
    let before: std::collections::HashSet<String> = items.iter().map(|i| i.id.clone()).collect();
    // An urgent message with files goes out as the text, then the files.
    let files = if urgent && !text.trim().is_empty() { 0 } else { attachments.len() };
    session.send_message(room_id, text, attachments, reply_to, urgent).await?;
    out.value(&serde_json::json!({"queued": {"room": room_id, "count": 1}}));
    let text = text.trim_end();
    let wait = async {
        while let Some(batch) = rx.recv().await {
            batch.into_iter().for_each(|d| d.apply(&mut items));
            for item in items.iter().filter(|i| !before.contains(&i.id)) {
                if let TimelineContent::Message { is_own: true, body, send_state, event_id, attachments, .. } =
                    &item.content
                {
                    if body != text || attachments.len() != files {
                        continue;
                    }
                    match (send_state, event_id) {
                        (SendState::Sent, Some(id)) => return Ok(id.clone()),
                        (SendState::Failed { reason, recoverable: false, .. }, _) => {
                            return Err(CoreError::SendRejected { count: 1, reason: reason.clone() });
                        }
                        _ => {}
                    }
                }
            }
        }
        Err(CoreError::Internal("timeline closed".into()))
    };
    tokio::time::timeout(timeout, wait).await.map_err(|_| {
        // Still queued: the SDK sends it on the next start. Say so, don't claim failure.
        CoreError::HomeserverUnreachable("not yet confirmed; the message stays queued".into())
    })?
}

/// Every stdin line one message, queued in order, then waits until sent.
pub async fn send_lines(
    session: &Session,
    room_id: &str,
    urgent: bool,
    timeout: Duration,
    out: &Output,
) -> Result<(), CoreError> {
    let lines: Vec<String> = std::io::stdin()
        .lock()
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|e| CoreError::Internal(format!("stdin: {e}")))?;
    let lines: Vec<String> = lines.into_iter().filter(|l| !l.trim().is_empty()).collect();
    for line in &lines {
        session.send_message(room_id, line, Vec::new(), None, urgent).await?;
    }
    out.value(&serde_json::json!({"queued": {"room": room_id, "count": lines.len()}}));
    let started = std::time::Instant::now();
    let refused = session.wait_until_flushed(timeout).await?;
    out.value(&serde_json::json!({"flushed": {"room": room_id, "count": lines.len(),
        "seconds": started.elapsed().as_secs_f64()}}));
    report_refused(refused, out)
}

/// Sends what an earlier run left queued (the SDK respawns it at start).
pub async fn flush(session: &Session, room: Option<&str>, timeout: Duration, out: &Output) -> Result<(), CoreError> {
    let started = std::time::Instant::now();
    let waiting = session.unsent_messages().await?;
    let count = waiting.iter().filter(|m| m.failure.is_none() && room.is_none_or(|r| m.room_id == r)).count();
    let refused = session.wait_until_flushed(timeout).await?;
    out.value(&serde_json::json!({"flushed": {"count": count, "seconds": started.elapsed().as_secs_f64()}}));
    report_refused(refused.into_iter().filter(|m| room.is_none_or(|r| m.room_id == r)).collect(), out)
}

fn report_refused(refused: Vec<kring_core::UnsentMessage>, out: &Output) -> Result<(), CoreError> {
    if refused.is_empty() {
        return Ok(());
    }
    out.value(&serde_json::json!({"unsent": refused.iter().map(unsent_json).collect::<Vec<_>>()}));
    Err(CoreError::SendRejected {
        count: refused.len(),
        reason: "retry, edit or discard them in the app; later messages were sent".into(),
    })
}

pub fn unsent_json(m: &kring_core::UnsentMessage) -> serde_json::Value {
    serde_json::json!({"room": m.room_id, "item": m.transaction_id, "body": m.body,
        "code": m.failure, "state": if m.failure.is_some() { "failed" } else { "sending" }})
}

/// Marks a room read from this device once its latest events are loaded.
pub async fn mark_read(session: &Session, room_id: &str) -> Result<(), CoreError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _sub = session.watch_timeline(room_id, Box::new(move |batch| tx.send(batch).is_ok())).await?;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(700), rx.recv()).await {}
    session.mark_read(room_id).await
}
