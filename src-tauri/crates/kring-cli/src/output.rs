//! How the CLI prints: text for people, JSON lines for scripts.

use kring_core::{CoreError, RoomSummary, SessionInfo, TimelineContent, TimelineItem};
use serde_json::json;

pub struct Output {
    json: bool,
}

/// Writes one line to stdout. When the reader has gone (`kring-cli tail |
/// head`), there is nobody left to tell anything: exit quietly instead of
/// panicking like `println!` does.
fn line(text: impl std::fmt::Display) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").is_err() {
        std::process::exit(0);
    }
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    fn emit(&self, value: serde_json::Value, text: String) {
        if self.json {
            line(value);
        } else {
            line(text);
        }
    }

    pub fn progress(&self, p: &kring_core::OnboardingProgress) {
        let name = serde_json::to_value(p.step).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let state = serde_json::to_value(p.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let detail = p.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
        self.emit(json!({"progress": p}), format!("{name} {state}{detail}"));
    }

    pub fn session(&self, info: &SessionInfo) {
        self.emit(json!(info), format!("{} on {} (device {})", info.user_id, info.homeserver, info.device_id));
    }

    pub fn rooms(&self, rooms: &[RoomSummary]) {
        if self.json {
            line(json!(rooms));
            return;
        }
        if rooms.is_empty() {
            line("(no rooms)");
        }
        for r in rooms {
            let name = if r.sensitive { kring_core::conversation::SENSITIVE_TOPIC } else { &r.name };
            line(format_args!("{}\t{}\t{} unread", r.room_id, name, r.unread_count));
        }
    }

    pub fn sent(&self, room_id: &str, event_id: &str) {
        self.emit(json!({"roomId": room_id, "eventId": event_id}), format!("sent {event_id}"));
    }

    pub fn message(&self, item: &TimelineItem) {
        if let TimelineContent::Message { sender, sender_name, body, attachments, .. } = &item.content {
            let files: Vec<&str> = attachments.iter().map(|a| a.filename.as_str()).collect();
            let files = if files.is_empty() { String::new() } else { format!(" [📎 {}]", files.join(", ")) };
            self.emit(json!(item), format!("{sender_name} ({sender}): {body}{files}"));
        }
    }

    pub fn audit(&self, entries: &[kring_core::AuditEntry]) {
        if self.json {
            line(json!(entries));
            return;
        }
        for e in entries {
            let (object, detail) = (e.object.as_deref().unwrap_or("-"), e.detail.as_deref().unwrap_or(""));
            line(format_args!(
                "{}\t{}\t{}\t{}\t{}\t{object}\t{detail}",
                e.seq, e.recorded_at, e.user_id, e.action, e.kind
            ));
        }
    }

    /// Any result: JSON as is, or pretty JSON for people.
    pub fn value(&self, value: &impl serde::Serialize) {
        let json = json!(value);
        if self.json {
            line(json);
        } else {
            line(serde_json::to_string_pretty(&json).unwrap_or_default());
        }
    }

    pub fn logged_out(&self) {
        self.emit(json!({"loggedOut": true}), "signed out".into());
    }

    pub fn error(&self, err: &CoreError) {
        let code = serde_json::to_value(err.code()).unwrap_or_default();
        if self.json {
            eprintln!("{}", json!({"error": {"code": code, "message": err.to_string()}}));
        } else {
            eprintln!("kring-cli: {err} [{}]", code.as_str().unwrap_or("internal"));
        }
    }
}
