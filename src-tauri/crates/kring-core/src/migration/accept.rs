//! At the new vendor: the invites the old account (or a lead of its care
//! team) sent, accepted once both identity services vouch for the same UZI.

use futures_util::StreamExt;
use matrix_sdk::ruma::{UserId, events::StateEventType};
use serde::Serialize;
use tracing::{info, warn};

use super::{MIGRATION_MARKER, check_identity};
use crate::{CoreError, Session, care_team::state_json};

/// Invites at the new vendor that the migration acceptance handled.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedMigrations {
    pub accepted: Vec<String>,
    /// Not from this account's own old identity: left as they are.
    pub refused: Vec<RefusedMigration>,
    /// Verified, but the join failed (tried again next time).
    pub failed: Vec<RefusedMigration>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefusedMigration {
    pub room_id: String,
    pub from: String,
    pub reason: String,
}

impl Session {
    /// At the new vendor: accepts the invites that carry the migration
    /// marker from this account's own old identity (the same UZI at both
    /// identity services), care teams before their conversations. Other
    /// invites are left as they are.
    pub async fn accept_migration_invites(&self) -> Result<AcceptedMigrations, CoreError> {
        let me = self.own_user_id()?;
        let mut done = AcceptedMigrations::default();
        let mut invites = Vec::new();
        for room in self.client.invited_rooms() {
            let Some(event) = room.get_state_event(StateEventType::RoomMember, me.as_str()).await? else { continue };
            let content = state_json(&event).map_err(|e| CoreError::Internal(e.to_string()))?["content"].clone();
            let Some(from) = content[MIGRATION_MARKER]["from"].as_str().map(str::to_owned) else { continue };
            let inviter = room.invite_details().await.ok().and_then(|d| d.inviter).map(|m| m.user_id().to_owned());
            invites.push((room, from, inviter));
        }
        if invites.is_empty() {
            return Ok(done);
        }
        let own = self.verified_identity_of(me.as_str()).await?;
        let mut checked: std::collections::HashMap<String, Result<(), String>> = Default::default();
        let (mut spaces, mut conversations) = (Vec::new(), Vec::new());
        for (room, from, inviter) in invites {
            // An invite from someone else (a care-team lead moving a
            // practitioner whose session is gone) is checked again after
            // the join, when the room's levels and members can be read.
            let by_other = inviter.as_deref().filter(|i| i.as_str() != from).map(ToOwned::to_owned);
            let verdict = if inviter.is_none() {
                Err("the invite names no inviter".to_owned())
            } else if let Some(known) = checked.get(&from) {
                known.clone()
            } else {
                let verdict = match (&own, self.verified_identity_of(&from).await) {
                    (None, _) => Err("this account has no care identity at its identity service".to_owned()),
                    (Some(own), Ok(old)) => match old {
                        Some(old) => check_identity(&old, Some(own), None, &[]),
                        None => Err("the old account has no care identity at its identity service".to_owned()),
                    },
                    (Some(_), Err(e)) => Err(format!("the old account's identity service: {e}")),
                };
                checked.insert(from.clone(), verdict.clone());
                verdict
            };
            match verdict {
                Err(reason) => {
                    done.refused.push(RefusedMigration { room_id: room.room_id().to_string(), from, reason })
                }
                Ok(()) if room.is_space() => spaces.push((room.room_id().to_string(), from, by_other)),
                Ok(()) => conversations.push((room.room_id().to_string(), from, by_other)),
            }
        }
        // Care teams first, so their conversations find the client link;
        // several at a time, as each join waits for sync to show it.
        for (group, is_space) in [(spaces, true), (conversations, false)] {
            let results: Vec<_> = futures_util::stream::iter(group)
                .map(|(room_id, from, by_other)| async move {
                    let joined = if is_space {
                        self.accept_care_team_invite(&room_id).await.map(|_| ())
                    } else {
                        self.join_conversation(&room_id).await
                    };
                    let kept = match (&joined, by_other) {
                        (Ok(()), Some(lead)) => self.keep_lead_invite(&room_id, &lead, &from).await,
                        _ => Ok(()),
                    };
                    (room_id, from, joined, kept)
                })
                .buffer_unordered(ACCEPT_AT_ONCE)
                .collect()
                .await;
            for (room_id, from, joined, kept) in results {
                match (joined, kept) {
                    (Ok(()), Err(reason)) => {
                        self.audit_detail("refuse_migration_invite", Some(&room_id), Some(&from)).await;
                        done.refused.push(RefusedMigration { room_id, from, reason });
                    }
                    (Ok(()), Ok(())) => {
                        self.audit_detail("accept_migration_invite", Some(&room_id), Some(&from)).await;
                        done.accepted.push(room_id);
                    }
                    (Err(e), _) => {
                        warn!(code = ?e.code(), "a migration invite could not be accepted; the next check tries again");
                        done.failed.push(RefusedMigration { room_id, from, reason: e.to_string() });
                    }
                }
            }
        }
        Ok(done)
    }
}

impl Session {
    /// A lead's invite that does not hold up after the join: left again.
    async fn keep_lead_invite(&self, room_id: &str, lead: &UserId, from: &str) -> Result<(), String> {
        let verdict = self.check_lead_invite(room_id, lead, from).await;
        if verdict.is_err() {
            if let Ok(room) = self.joined_room(room_id)
                && let Err(e) = room.leave().await
            {
                warn!(code = ?CoreError::from(e).code(), "could not leave a refused migration room");
            }
            // A care team's join linked its client: not this account's client.
            if let Err(e) = self.store.forget_client_link(room_id).await {
                warn!(code = ?crate::care_team::store_err(e).code(), "could not forget a refused care team's client");
            }
        }
        verdict
    }
}

/// Joins at a time when accepting: each waits for sync to show it.
const ACCEPT_AT_ONCE: usize = 8;

/// How often the running app looks for migration invites.
const ACCEPT_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// The running app at the new vendor: accepts migration invites as they
/// come (`accept_migration_invites` in the deployment config, on by default).
pub fn start_migration_acceptance(session: std::sync::Arc<Session>) -> crate::Subscription {
    crate::Subscription::new(tokio::spawn(async move {
        loop {
            // After the first sync has brought the invites, and between checks.
            tokio::time::sleep(ACCEPT_EVERY).await;
            match session.accept_migration_invites().await {
                Ok(done) if !done.accepted.is_empty() || !done.refused.is_empty() || !done.failed.is_empty() => {
                    let (accepted, refused, failed) = (done.accepted.len(), done.refused.len(), done.failed.len());
                    info!(accepted, refused, failed, "migration invites handled");
                }
                Ok(_) => {}
                Err(e) => warn!(code = ?e.code(), "could not handle migration invites"),
            }
        }
    }))
}
