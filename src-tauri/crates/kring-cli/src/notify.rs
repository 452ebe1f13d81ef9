//! Desktop notifications and push registration from the command line.

use std::{sync::Arc, time::Duration};

use clap::Subcommand;
use kring_core::{CoreError, DesktopNotifier, NotificationEvent, PushRegistration, Session};

use crate::output::Output;

#[derive(Subcommand)]
pub enum NotificationsCommand {
    /// Sync and show desktop notifications (D-Bus), printing what happens.
    /// The options given are saved as this profile's settings.
    Watch {
        /// Stop after this many seconds (default: until interrupted).
        #[arg(long)]
        seconds: Option<u64>,
        /// Notify an unread urgent message again after this many seconds.
        #[arg(long)]
        repeat_after: Option<u32>,
        /// ...at most this many times.
        #[arg(long)]
        repeat_count: Option<u32>,
        /// Show the message text in notifications.
        #[arg(long)]
        show_text: bool,
        /// onboarding.json: its `app_lock` (default: on). With a PIN set,
        /// the watch runs locked: notifications name no one.
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum PushCommand {
    /// Register this device with a push gateway (format event_id_only).
    Register {
        /// The gateway's /_matrix/push/v1/notify URL.
        #[arg(long)]
        url: String,
        #[arg(long)]
        pushkey: String,
        #[arg(long, default_value = "nl.kring.mobile")]
        app_id: String,
        #[arg(long, default_value = "Kring")]
        device_name: String,
    },
    /// The account's pushers.
    List,
    Remove {
        #[arg(long)]
        pushkey: String,
        #[arg(long, default_value = "nl.kring.mobile")]
        app_id: String,
    },
}

pub async fn notifications(
    session: &Session,
    command: &NotificationsCommand,
    timeout: Duration,
    out: &Output,
) -> Result<(), CoreError> {
    let NotificationsCommand::Watch { seconds, repeat_after, repeat_count, show_text, config } = command;
    let policy = match config {
        Some(path) => kring_core::OnboardingConfig::load(path)?.app_lock,
        None => kring_core::AppLockPolicy::default(),
    };
    session.use_app_lock(policy);
    let mut settings = session.notification_settings().await;
    settings.show_message_text = *show_text;
    if let Some(s) = repeat_after {
        settings.repeat_after_seconds = *s;
    }
    if let Some(n) = repeat_count {
        settings.repeat_count = *n;
    }
    session.set_notification_settings(&settings).await?;
    let (clicks, activations) = tokio::sync::mpsc::unbounded_channel();
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let _sub = session.start_notifications(
        Arc::new(DesktopNotifier::new(clicks)),
        activations,
        Box::new(move |event| events_tx.send(event).is_ok()),
    );
    session.wait_until_synced(timeout).await;
    out.value(&serde_json::json!({"watching": true}));
    let run = async {
        while let Some(event) = events.recv().await {
            out.value(&serde_json::json!({"notification": event_json(&event)}));
        }
    };
    match seconds {
        Some(s) => {
            let _ = tokio::time::timeout(Duration::from_secs(*s), run).await;
        }
        None => run.await,
    }
    Ok(())
}

fn event_json(event: &NotificationEvent) -> serde_json::Value {
    use serde_json::json;
    match event {
        NotificationEvent::Shown { room_id, event_id, urgent } => {
            json!({"kind": "shown", "room": room_id, "eventId": event_id, "urgent": urgent, "repeat": 0})
        }
        NotificationEvent::Repeated { room_id, event_id, repeat } => {
            json!({"kind": "repeated", "room": room_id, "eventId": event_id, "urgent": true, "repeat": repeat})
        }
        NotificationEvent::Withdrawn { room_id, event_id } => {
            json!({"kind": "withdrawn", "room": room_id, "eventId": event_id})
        }
        NotificationEvent::Activated { room_id, event_id } => {
            json!({"kind": "activated", "room": room_id, "eventId": event_id})
        }
    }
}

pub async fn push(session: &Session, command: &PushCommand, out: &Output) -> Result<(), CoreError> {
    match command {
        PushCommand::Register { url, pushkey, app_id, device_name } => {
            let registration = PushRegistration {
                gateway_url: url.clone(),
                pushkey: pushkey.clone(),
                app_id: app_id.clone(),
                device_name: device_name.clone(),
            };
            session.register_pusher(&registration).await?;
            out.value(&serde_json::json!({"registered": registration}));
        }
        PushCommand::List => out.value(&session.pushers().await?),
        PushCommand::Remove { pushkey, app_id } => {
            session.remove_pusher(pushkey, app_id).await?;
            out.value(&serde_json::json!({"removed": pushkey}));
        }
    }
    Ok(())
}
