//! The last way in (001 §7): a care-team lead moves a practitioner whose own
//! session is gone. The lead's device holds the room keys too, so the invite
//! still shares the history (MSC4268); the job and its database are the old
//! account's own job, run from the lead's profile.

use matrix_sdk::{Room, ruma::UserId};

use super::{MigrationPlan, PlannedRoom, Verification, check_identity, level_of, membership_on_server};
use crate::{CoreError, Role, Session, care_team::fetch_power_levels, compliance::audit::space_of};

impl Session {
    /// What a lead's move of `old` to `new` would do: every care team this
    /// account leads (100) where `old` is a member, and their conversations
    /// that both are in. Verified like the practitioner's own move: both
    /// identity services vouch for the same UZI, a shared URA and role code.
    /// Changes nothing.
    pub async fn plan_lead_migration(&self, old: &str, new: &str) -> Result<MigrationPlan, CoreError> {
        let me = self.own_user_id()?;
        let old_id = UserId::parse(old).map_err(|_| CoreError::UnknownUser(old.to_owned()))?;
        let new_id = UserId::parse(new).map_err(|_| CoreError::UnknownUser(new.to_owned()))?;
        let theirs_old = self.verified_identity_of(old_id.as_str()).await?;
        let theirs_new = self.verified_identity_of(new_id.as_str()).await?;
        let mut plan = MigrationPlan {
            old_user_id: old_id.to_string(),
            new_user_id: Some(new_id.to_string()),
            old_still_listed: false,
            uzi: String::new(),
            ura: None,
            role_codes: Vec::new(),
            verification: None,
            rooms: Vec::new(),
        };
        let checked = match &theirs_old {
            None => Err("the old account has no care identity at its identity service".to_owned()),
            Some(o) => {
                plan.uzi = o.uzi.clone().unwrap_or_default();
                plan.role_codes = o.role_codes.clone();
                // The organisation both accounts are bound to, if they share one.
                let shared = theirs_new.as_ref().and_then(|n| o.ura.iter().find(|u| n.ura.contains(u)));
                plan.ura = shared.or(o.ura.first()).cloned();
                check_identity(o, theirs_new.as_ref(), plan.ura.as_deref(), &o.role_codes)
            }
        };
        plan.verification = Some(Verification {
            verified: checked.is_ok(),
            reason: checked.err(),
            identity_service: theirs_new.map(|t| t.identity_service),
        });
        for team in self.care_teams().await? {
            let space = self.joined_room(&team.space_id)?;
            let levels = fetch_power_levels(&space).await?;
            if level_of(&space, &me, &levels) < Role::Lead.level() {
                continue;
            }
            let Some(planned) = self.lead_planned_room(&space, None, &old_id, &new_id, &levels).await? else {
                continue;
            };
            plan.rooms.push(planned);
            for room in self.conversation_rooms(&team.space_id).await? {
                if room.state() != matrix_sdk::RoomState::Joined {
                    continue;
                }
                let levels = fetch_power_levels(&room).await?;
                if let Some(p) = self.lead_planned_room(&room, Some(&team.space_id), &old_id, &new_id, &levels).await? {
                    plan.rooms.push(p);
                }
            }
        }
        Ok(plan)
    }

    /// The room in a lead's plan, if `old` is joined there.
    async fn lead_planned_room(
        &self,
        room: &Room,
        space_id: Option<&str>,
        old: &UserId,
        new: &UserId,
        levels: &serde_json::Value,
    ) -> Result<Option<PlannedRoom>, CoreError> {
        let joined = membership_on_server(room, old).await?.is_some_and(|m| m["membership"] == "join");
        if !joined {
            return Ok(None);
        }
        let membership = membership_on_server(room, new).await?;
        Ok(Some(PlannedRoom {
            room_id: room.room_id().to_string(),
            space_id: space_id.map(str::to_owned),
            level: level_of(room, old, levels),
            new_membership: membership.and_then(|m| m["membership"].as_str().map(str::to_owned)),
        }))
    }

    /// At the new vendor, after joining a migration invite that someone
    /// else than the old account sent: kept only if that inviter leads the
    /// room or its care team and the old account is a member. The homeserver
    /// shows neither before the join.
    pub(super) async fn check_lead_invite(&self, room_id: &str, inviter: &UserId, old: &str) -> Result<(), String> {
        let room = self.joined_room(room_id).map_err(|e| e.to_string())?;
        let old = UserId::parse(old).map_err(|_| "the marker names no valid old account".to_owned())?;
        let old_joined = membership_on_server(&room, &old)
            .await
            .map_err(|e| e.to_string())?
            .is_some_and(|m| m["membership"] == "join");
        if !old_joined {
            return Err("the old account is not a member of this room".to_owned());
        }
        let leads = |room: Room| async move {
            let levels = fetch_power_levels(&room).await.ok()?;
            Some(level_of(&room, inviter, &levels) >= Role::Lead.level())
        };
        if leads(room.clone()).await == Some(true) {
            return Ok(());
        }
        if let Some(space) = space_of(&room).await.and_then(|s| self.joined_room(&s).ok())
            && leads(space).await == Some(true)
        {
            return Ok(());
        }
        Err(format!("the invite was sent by {inviter}, who does not lead this care team"))
    }
}
