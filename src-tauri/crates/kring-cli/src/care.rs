//! The care-team, conversation and directory commands: their arguments and what they run.

use std::{path::PathBuf, time::Duration};

use clap::Subcommand;
use kring_core::{ClientRef, ConversationKind, ConversationStatus, CoreError, NewConversation, Role, Session};

use crate::{onboard::use_directories, output::Output, read_attachments};

#[derive(Subcommand)]
pub enum CareTeamCommand {
    /// The care teams of the signed-in user, named by client.
    List,
    /// Create the care team of a client, with yourself as lead.
    Create {
        #[arg(long)]
        client_name: String,
        #[arg(long)]
        pseudo_bsn: String,
        /// The deployment's onboarding.json: its `retention_days` is the new team's retention.
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    },
    /// Retention (m.room.retention): show it, set it for a care team and its
    /// conversations (lead), or purge this device's caches of what expired.
    Retention {
        /// The care team or conversation.
        #[arg(long)]
        room: Option<String>,
        /// Set the care team's retention to this many days ...
        #[arg(long, conflicts_with = "seconds")]
        days: Option<u32>,
        /// ... or seconds (for short test lifetimes).
        #[arg(long)]
        seconds: Option<u64>,
        /// Purge expired events from this device's caches now.
        #[arg(long)]
        purge: bool,
        /// Whether this device still holds this event of `--room`.
        #[arg(long)]
        holds: Option<String>,
        /// List the conversations (of `--room`, a care team, or all) whose
        /// oldest messages are deleted within the reminder window.
        #[arg(long)]
        expiring: bool,
        /// Show the desktop reminder for expiring conversations not yet
        /// archived or reminded of, and list them.
        #[arg(long)]
        remind: bool,
        /// The organisation's onboarding.json (`retention_reminder_days`).
        #[arg(long)]
        config: Option<std::path::PathBuf>,
    },
    /// Invite someone with a role: lead, senior, practitioner, related_person, client.
    Invite {
        #[arg(long)]
        space: String,
        /// The Matrix ID; or --email for a related person or client without an account yet.
        #[arg(long, required_unless_present = "email", conflicts_with = "email")]
        user: Option<String>,
        /// Invite by e-mail (related_person or client): the identity service mails them how to join.
        #[arg(long)]
        email: Option<String>,
        #[arg(long, value_parser = parse_role, default_value = "practitioner")]
        role: Role,
        /// For a related person: how they relate to the client (e.g. mantelzorger).
        #[arg(long)]
        relation: Option<String>,
    },
    /// The care network: every participant with function, organisation or
    /// relation, and absences. From the cache unless --refresh.
    Network {
        #[arg(long)]
        space: String,
        /// Ask the directories first (a few seconds at most per directory).
        #[arg(long)]
        refresh: bool,
        /// The onboarding configuration: its resolvers find each practitioner's directory by URA.
        #[arg(long, env = "KRING_ONBOARDING_CONFIG")]
        config: Option<PathBuf>,
        /// Print {"network", "stats": {"millis", "directoryRequests"}} (benchmarks).
        #[arg(long)]
        stats: bool,
    },
    /// Change a member's role in the care team and its conversations (recorded).
    SetRole {
        #[arg(long)]
        space: String,
        #[arg(long)]
        user: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Care-team invites waiting for you, with the client they are about.
    Invites,
    /// Join a care team you were invited to.
    Accept {
        #[arg(long)]
        space: String,
    },
    /// The members of a care team and their roles.
    Members {
        #[arg(long)]
        space: String,
    },
}

#[derive(Subcommand)]
pub enum DirectoryCommand {
    /// Search practitioners by name, role and organisation across the known directories.
    Search {
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        organisation: Option<String>,
        /// The onboarding configuration: its vendor and static directories are searched.
        #[arg(long, env = "KRING_ONBOARDING_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum ConversationCommand {
    /// The conversations of a client's care team.
    List {
        #[arg(long)]
        space: String,
    },
    /// Start a conversation: subject (at most 50 characters), recipients, first message.
    Start {
        #[arg(long)]
        space: String,
        #[arg(long)]
        subject: String,
        /// A recipient from the care team; repeat for more.
        #[arg(long = "to", required = true)]
        recipients: Vec<String>,
        /// professional (default) or client_inclusive.
        #[arg(long, value_parser = parse_kind, default_value = "professional")]
        kind: ConversationKind,
        /// A file to attach; repeat for more (at most 5).
        #[arg(long = "attach")]
        attachments: Vec<std::path::PathBuf>,
        /// Hide the subject in lists and notifications.
        #[arg(long)]
        sensitive: bool,
        body: String,
    },
    /// Mark a conversation sensitive (or, with --off, not): lists and
    /// notifications then show "Vertrouwelijk gesprek" instead of the subject.
    Sensitive {
        #[arg(long)]
        room: String,
        #[arg(long)]
        off: bool,
    },
    /// Take part in a conversation you were invited to.
    Join {
        #[arg(long)]
        room: String,
    },
    /// Add a member of the client's care team to a running conversation.
    Add {
        #[arg(long)]
        room: String,
        #[arg(long)]
        user: String,
    },
    /// Archive a conversation for everyone (read-only).
    Archive {
        #[arg(long)]
        room: String,
    },
    /// The conversation as FHIR (UC8): a transaction Bundle with its
    /// CareTeam, CommunicationRequest and Communications. With --deliver (or
    /// --config naming `information_system`), posted to the organisation's
    /// information system; else printed (or written to --out).
    Export {
        #[arg(long)]
        room: String,
        /// The information system's FHIR base URL.
        #[arg(long)]
        deliver: Option<url::Url>,
        /// onboarding.json: its `information_system` is where to deliver.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Start a conversation for each new CommunicationRequest at the
    /// information system (about a client whose care team is on this device).
    Import {
        /// The information system's FHIR base URL.
        #[arg(long)]
        from: Option<url::Url>,
        /// onboarding.json: its `information_system`.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Reopen an archived conversation.
    Reopen {
        #[arg(long)]
        room: String,
    },
    /// Show or set when a conversation notifies: all, mentionsAndUrgent or mute
    /// (urgent messages notify in every mode).
    Notifications {
        #[arg(long)]
        room: String,
        #[arg(long, value_parser = parse_mode)]
        mode: Option<kring_core::NotificationMode>,
    },
}

fn parse_mode(s: &str) -> Result<kring_core::NotificationMode, String> {
    let s = match s {
        "mentions" => "mentionsAndUrgent",
        other => other,
    };
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|e| e.to_string())
}

fn parse_role(s: &str) -> Result<Role, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|e| e.to_string())
}

fn parse_kind(s: &str) -> Result<ConversationKind, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|e| e.to_string())
}

pub async fn care_team(session: &Session, command: &CareTeamCommand, out: &Output) -> Result<(), CoreError> {
    match command {
        CareTeamCommand::List => out.value(&session.care_teams().await?),
        CareTeamCommand::Create { client_name, pseudo_bsn, config } => {
            if let Some(path) = config {
                session.use_default_retention(kring_core::OnboardingConfig::load(path)?.default_retention_ms());
            }
            let client = ClientRef { display_name: client_name.clone(), pseudo_bsn: pseudo_bsn.clone() };
            out.value(&session.create_care_team(&client).await?)
        }
        CareTeamCommand::Retention { room, expiring, remind, config, .. } if *expiring || *remind => {
            if let Some(path) = config {
                session.use_retention_reminder(kring_core::OnboardingConfig::load(path)?.retention_reminder_days);
            }
            if *remind {
                let (clicks, _activations) = tokio::sync::mpsc::unbounded_channel();
                out.value(&session.remind_expiring(&kring_core::DesktopNotifier::new(clicks)).await?);
            } else {
                out.value(&session.expiring_conversations(room.as_deref()).await?);
            }
        }
        CareTeamCommand::Retention { room, days, seconds, purge, holds, .. } => {
            let lifetime = days.map(|d| u64::from(d) * 24 * 3600 * 1000).or(seconds.map(|s| s * 1000));
            match (room.as_deref(), lifetime, holds.as_deref()) {
                (Some(room), Some(ms), _) => {
                    session.set_retention(room, ms).await?;
                    out.value(&serde_json::json!({"room": room, "maxLifetimeMs": ms}));
                }
                (Some(room), None, Some(event)) => {
                    out.value(&serde_json::json!({"room": room, "event": event,
                        "held": session.holds_event(room, event).await?}));
                }
                (Some(room), None, None) if !*purge => {
                    out.value(&serde_json::json!({"room": room, "maxLifetimeMs": session.retention(room).await?}));
                }
                _ => out.value(&session.purge_expired().await),
            }
        }
        CareTeamCommand::Invite { space, user: Some(user), role, relation, .. } => {
            session.invite_to_care_team(space, user, *role).await?;
            if let Some(relation) = relation {
                session.set_relation(space, user, relation).await?;
            }
            out.value(&serde_json::json!({"invited": user, "role": role}))
        }
        CareTeamCommand::Invite { space, email: Some(email), role, relation, .. } => {
            session.invite_by_email(space, email, *role, relation.as_deref()).await?;
            out.value(&serde_json::json!({"invitedByEmail": true, "role": role}))
        }
        CareTeamCommand::Invite { .. } => return Err(CoreError::UnknownUser(String::new())),
        CareTeamCommand::SetRole { space, user, role } => {
            session.set_care_team_role(space, user, *role).await?;
            out.value(&serde_json::json!({"user": user, "role": role}))
        }
        CareTeamCommand::Invites => out.value(&session.care_team_invites().await?),
        CareTeamCommand::Accept { space } => out.value(&session.accept_care_team_invite(space).await?),
        CareTeamCommand::Members { space } => out.value(&session.care_team_members(space).await?),
        CareTeamCommand::Network { space, refresh, config, stats } => {
            use_directories(session, config.as_deref())?;
            session.audit_read("open_care_network", space).await;
            let started = std::time::Instant::now();
            let (network, requests) = if *refresh {
                session.refresh_care_network_counted(space).await?
            } else {
                (session.care_network(space).await?, 0)
            };
            if *stats {
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                out.value(
                    &serde_json::json!({"network": network, "stats": {"millis": ms, "directoryRequests": requests}}),
                );
            } else {
                out.value(&network);
            }
        }
    }
    Ok(())
}

/// The information system: given, or from the deployment's configuration.
fn information_system(
    given: Option<&url::Url>,
    config: Option<&std::path::Path>,
) -> Result<Option<url::Url>, CoreError> {
    if let Some(url) = given {
        return Ok(Some(url.clone()));
    }
    let Some(path) = config else { return Ok(None) };
    Ok(kring_core::OnboardingConfig::load(path)?.information_system)
}

pub async fn conversation(session: &Session, command: &ConversationCommand, out: &Output) -> Result<(), CoreError> {
    match command {
        ConversationCommand::List { space } => out.value(&session.conversations(space).await?),
        ConversationCommand::Start { space, subject, recipients, kind, attachments, sensitive, body } => {
            let request = NewConversation {
                space_id: space.clone(),
                subject: subject.clone(),
                body: body.clone(),
                recipients: recipients.clone(),
                kind: *kind,
                attachments: read_attachments(attachments)?,
                sensitive: *sensitive,
            };
            let room_id = session.start_conversation(&request).await?;
            // Wait until the first message has left the send queue.
            session.wait_for_send_queue(&room_id, Duration::from_secs(30)).await;
            out.value(&serde_json::json!({"roomId": room_id}))
        }
        ConversationCommand::Add { room, user } => {
            session.add_to_conversation(room, user).await?;
            out.value(&serde_json::json!({"added": user, "room": room}))
        }
        ConversationCommand::Join { room } => {
            session.join_conversation(room).await?;
            out.value(&serde_json::json!({"joined": room}))
        }
        ConversationCommand::Archive { room } => {
            session.set_conversation_status(room, ConversationStatus::Archived).await?;
            out.value(&serde_json::json!({"archived": room}))
        }
        ConversationCommand::Export { room, deliver, config, out: file } => {
            match information_system(deliver.as_ref(), config.as_deref())? {
                Some(endpoint) => out.value(&session.archive_conversation(room, &endpoint).await?),
                None => {
                    let (bundle, receipt) = session.conversation_archive(room).await?;
                    match file {
                        Some(path) => {
                            let text =
                                serde_json::to_vec_pretty(&bundle).map_err(|e| CoreError::Internal(e.to_string()))?;
                            std::fs::write(path, text)
                                .map_err(|e| CoreError::Storage(format!("{}: {e}", path.display())))?;
                            out.value(&receipt)
                        }
                        None => out.value(&bundle),
                    }
                }
            }
        }
        ConversationCommand::Import { from, config } => {
            let endpoint = information_system(from.as_ref(), config.as_deref())?
                .ok_or_else(|| CoreError::FhirInvalid("no information system: give --from or --config".into()))?;
            let report = session.import_communication_requests(&endpoint).await?;
            // Each first message leaves the send queue before the process does.
            for started in &report.started {
                session.wait_for_send_queue(&started.room_id, Duration::from_secs(30)).await;
            }
            out.value(&report)
        }
        ConversationCommand::Sensitive { room, off } => {
            session.set_conversation_sensitive(room, !off).await?;
            out.value(&serde_json::json!({"roomId": room, "sensitive": !off}))
        }
        ConversationCommand::Reopen { room } => {
            session.set_conversation_status(room, ConversationStatus::Active).await?;
            out.value(&serde_json::json!({"reopened": room}))
        }
        ConversationCommand::Notifications { room, mode } => {
            // The SDK's rule cache catches up with a change a moment later:
            // after setting, the answer is what was set.
            let mode = match mode {
                Some(mode) => {
                    session.set_conversation_notification_mode(room, *mode).await?;
                    *mode
                }
                None => session.conversation_notification_mode(room).await?,
            };
            out.value(&serde_json::json!({"room": room, "mode": mode}))
        }
    }
    Ok(())
}
