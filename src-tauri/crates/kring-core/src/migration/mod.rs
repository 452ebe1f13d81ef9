//! Vendor migration (UC4, 001 §7): an organisation moves its practitioners
//! to another vendor's homeserver, and nobody loses a care team.
//!
//! At the old vendor, the old account's own session runs the job: it reads
//! the organisation's mCSD directory, finds that its practitioner's role now
//! names an MXID on another homeserver, checks at that homeserver's identity
//! service that the new MXID carries the same UZI, URA and role code, then
//! invites it to every care team and conversation at the old account's level,
//! with the invite context of 001 §4 and a migration marker. The own session
//! matters: it holds the room keys the invite shares (MSC4268). Where it is
//! gone, a care-team lead runs the same job from the lead's session
//! (`lead.rs`), whose device holds the keys too.
//! At the new vendor, Kring accepts invites that carry the marker from its
//! own old identity, verified the same way (a lead's, once joined, only if
//! that lead leads the room or its care team). Every step is written to the
//! job's own database first, so a run that stopped anywhere resumes there.

use std::collections::BTreeSet;

use futures_util::StreamExt;

use kring_directory::{DirectoryClient, matrix_address::parse_user_id};
use kring_store::{MigrationJobs, MigrationRoom};
use matrix_sdk::{
    Room,
    ruma::{OwnedTransactionId, UserId, events::StateEventType},
};
use serde::Serialize;
use serde_json::{Value, json};
use tracing::warn;

mod accept;
mod deactivate;
mod lead;

pub use accept::{AcceptedMigrations, RefusedMigration, start_migration_acceptance};

use crate::{
    CoreError, Role, Session,
    care_team::{INVITE_CONTEXT, fetch_power_levels, invite_context, set_user_level, store_err},
    identity_service::VerifiedIdentity,
};

/// In the invite's member event: who moved (001 §7). The new account
/// accepts only invites whose marker names the inviter itself.
pub const MIGRATION_MARKER: &str = "nl.kring.migration";

/// Rooms read at a time when planning (two requests each).
const READ_AT_ONCE: usize = 8;

/// A room's note when the old account could not give the new one its level.
const LEVEL_PENDING: &str = "level_pending";

/// Where the job keeps its state for a profile: next to `kring.db`.
pub fn job_database_path(data_dir: &std::path::Path, profile: &str) -> std::path::PathBuf {
    data_dir.join("profiles").join(profile).join("migration.db")
}

/// What a move would do; a dry run prints only this.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationPlan {
    pub old_user_id: String,
    /// The MXID the directory names now; `None` when nothing moved.
    pub new_user_id: Option<String>,
    /// Whether the directory still lists the old MXID beside the new one
    /// (a transition period): invites go out, but the old account is not
    /// deactivated while the directory still names it.
    pub old_still_listed: bool,
    pub uzi: String,
    pub ura: Option<String>,
    pub role_codes: Vec<String>,
    /// `None` while there is nothing to verify.
    pub verification: Option<Verification>,
    pub rooms: Vec<PlannedRoom>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub verified: bool,
    pub reason: Option<String>,
    pub identity_service: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedRoom {
    pub room_id: String,
    /// The care team; `None` for the care team's own space.
    pub space_id: Option<String>,
    pub level: i64,
    /// The new account's membership there now (`invite`, `join`, …), if any.
    pub new_membership: Option<String>,
}

/// Per practitioner: what the job did so far.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationReport {
    pub old_user_id: String,
    pub new_user_id: String,
    pub state: String,
    pub rooms: usize,
    pub invited: usize,
    pub accepted: usize,
    pub failed: usize,
    /// Rooms where the old account may not set levels (below 75): the new
    /// account joined at the default level, and a lead must give it its role.
    pub level_pending: usize,
    pub deactivated: bool,
    /// Why the old account is still active, when it is.
    pub blocked: Vec<String>,
    pub leads_told: bool,
}

/// How the homeserver is asked to close the old account.
#[derive(Clone, Copy)]
pub enum Deactivation<'a> {
    /// The account's own password (user-interactive auth).
    Password(&'a str),
    /// A homeserver administrator's access token (Synapse's admin API):
    /// for accounts that sign in only through SSO and have no password.
    AdminToken(&'a str),
}

/// How `run_migration` goes on after the invites.
pub struct RunOptions<'a> {
    /// Deactivate the old account once every invite was accepted (or the
    /// timeout passed), confirmed this way.
    pub deactivate_with: Option<Deactivation<'a>>,
    /// After this long without every invite accepted, the leads are told,
    /// and the old account may go once no care team depends on it.
    pub timeout: std::time::Duration,
    /// Called after each step is written down, and with `"notice_sent"`
    /// between the notice's send and its record (for fault-injection tests:
    /// the CLI can kill itself there).
    pub after_step: &'a (dyn Fn(&str) + Sync),
}

/// Whether `new` carries what the directory and the old account's binding
/// say: the same UZI, the organisation's URA, and the role's code.
fn check_identity(
    old: &VerifiedIdentity,
    new: Option<&VerifiedIdentity>,
    ura: Option<&str>,
    role_codes: &[String],
) -> Result<(), String> {
    let Some(new) = new else { return Err("the new account has no care identity at its identity service".into()) };
    if new.uzi != old.uzi {
        return Err("the new account is bound to another UZI number".into());
    }
    if let Some(ura) = ura
        && !new.ura.iter().any(|u| u == ura)
    {
        return Err("the new account is not bound to this organisation's URA".into());
    }
    if !role_codes.is_empty() && !role_codes.iter().any(|c| new.role_codes.contains(c)) {
        return Err("the new account is bound to another role".into());
    }
    Ok(())
}

fn level_of(room: &Room, user: &UserId, levels: &Value) -> i64 {
    levels["users"][user.as_str()].as_i64().unwrap_or_else(|| {
        // Room version 12 lists no level for the creators: they lead.
        if room.creators().is_some_and(|c| c.iter().any(|u| u == user)) { Role::Lead.level() } else { 0 }
    })
}

/// The membership `user` has in `room` on the homeserver now, with its content.
async fn membership_on_server(room: &Room, user: &UserId) -> Result<Option<Value>, CoreError> {
    use matrix_sdk::ruma::api::client::state::get_state_event_for_key::v3::Request;
    let request = Request::new(room.room_id().to_owned(), StateEventType::RoomMember, user.to_string());
    match room.client().send(request).await {
        Ok(r) => Ok(serde_json::from_str(r.event_or_content.get()).ok()),
        Err(e) if e.client_api_error_kind() == Some(&matrix_sdk::ruma::api::error::ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl Session {
    /// Reads the directory and this account's rooms: what a move would do.
    /// Changes nothing, here or on any server.
    pub async fn plan_migration(&self, directory: &str) -> Result<MigrationPlan, CoreError> {
        let me = self.own_user_id()?;
        let own = self.verified_identity_of(me.as_str()).await?.ok_or(CoreError::MigrationIdentityUnverified)?;
        let uzi = own.uzi.clone().ok_or(CoreError::MigrationIdentityUnverified)?;
        let dir = DirectoryClient::new(directory)?;
        let organisation = dir.base().to_string();
        let practitioner = dir
            .practitioner_by_uzi(&uzi)
            .await?
            .ok_or_else(|| CoreError::PractitionerNotInDirectory { organisation: organisation.clone() })?;
        let roles = dir.roles_of(practitioner.id.as_deref().unwrap_or_default()).await?;
        // Every MXID the directory names for this practitioner, per role
        // first: a role's own address wins over the practitioner's.
        let listed = |telecom: &[kring_directory::fhir::ContactPoint]| -> Vec<String> {
            telecom.iter().filter_map(|t| t.value.as_deref().and_then(parse_user_id)).collect()
        };
        let mut found: Option<(String, &kring_directory::fhir::PractitionerRole)> = None;
        let mut all = BTreeSet::new();
        for role in &roles {
            for id in listed(&role.telecom) {
                all.insert(id.clone());
                if found.is_none()
                    && kring_directory::matrix_address::server_name_of(&id) != Some(me.server_name().as_str())
                {
                    found = Some((id, role));
                }
            }
        }
        all.extend(listed(&practitioner.telecom));
        let mut plan = MigrationPlan {
            old_user_id: me.to_string(),
            new_user_id: None,
            old_still_listed: all.contains(me.as_str()),
            uzi,
            ura: None,
            role_codes: Vec::new(),
            verification: None,
            rooms: Vec::new(),
        };
        let Some((new_id, role)) = found else { return Ok(plan) };
        let new = UserId::parse(&new_id).map_err(|_| CoreError::UnknownUser(new_id.clone()))?;
        plan.role_codes = role.code.iter().flat_map(|c| &c.coding).filter_map(|c| c.code.clone()).collect::<Vec<_>>();
        // The role's organisation, by the URA the old account is bound to.
        let wanted = role.organization.as_ref().and_then(|r| r.reference.clone());
        for ura in &own.ura {
            if let Some(org) = dir.organization_by_ura(ura).await?
                && wanted.as_deref() == org.id.as_deref().map(|id| format!("Organization/{id}")).as_deref()
            {
                plan.ura = Some(ura.clone());
            }
        }
        let theirs = self.verified_identity_of(new.as_str()).await?;
        let checked = check_identity(&own, theirs.as_ref(), plan.ura.as_deref(), &plan.role_codes);
        plan.verification = Some(Verification {
            verified: checked.is_ok(),
            reason: checked.err(),
            identity_service: theirs.map(|t| t.identity_service),
        });
        plan.new_user_id = Some(new.to_string());
        let mut rooms = Vec::new();
        for team in self.care_teams().await? {
            rooms.push((self.joined_room(&team.space_id)?, None));
            for room in self.conversation_rooms(&team.space_id).await? {
                if room.state() == matrix_sdk::RoomState::Joined {
                    rooms.push((room, Some(team.space_id.clone())));
                }
            }
        }
        // Two reads per room, several rooms at a time, in order.
        let (me, new) = (&me, &new);
        let planned: Vec<_> = futures_util::stream::iter(rooms)
            .map(|(room, space_id)| async move { self.planned_room(&room, space_id.as_deref(), me, new).await })
            .buffered(READ_AT_ONCE)
            .collect()
            .await;
        plan.rooms = planned.into_iter().collect::<Result<_, _>>()?;
        Ok(plan)
    }

    /// Whether the directory changed anything (roles or practitioners: ITI-91
    /// `_history` where offered, else `_lastUpdated`; two requests) since
    /// `since_ms`, this machine's clock with a minute's margin for the
    /// directory's: what an idle watch asks instead of a whole plan.
    pub async fn directory_changed_since(&self, directory: &str, since_ms: i64) -> Result<bool, CoreError> {
        let since = jiff::Timestamp::from_millisecond(since_ms.saturating_sub(60_000))
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        Ok(!DirectoryClient::new(directory)?.changes_since(&since.to_string()).await?.is_empty())
    }

    async fn planned_room(
        &self,
        room: &Room,
        space_id: Option<&str>,
        me: &UserId,
        new: &UserId,
    ) -> Result<PlannedRoom, CoreError> {
        let levels = fetch_power_levels(room).await?;
        let membership = membership_on_server(room, new).await?;
        Ok(PlannedRoom {
            room_id: room.room_id().to_string(),
            space_id: space_id.map(str::to_owned),
            level: level_of(room, me, &levels),
            new_membership: membership.and_then(|m| m["membership"].as_str().map(str::to_owned)),
        })
    }

    /// Carries out a plan, resuming where an earlier run stopped: levels,
    /// invites (with the invite context and the marker), a notice to the
    /// room, then, when asked and safe, the old account's deactivation.
    pub async fn run_migration(
        &self,
        plan: &MigrationPlan,
        jobs: &MigrationJobs,
        options: &RunOptions<'_>,
    ) -> Result<MigrationReport, CoreError> {
        let Some(new_id) = plan.new_user_id.as_deref() else {
            return Err(CoreError::NotYetSupported("the directory names no new account for this practitioner".into()));
        };
        let old = plan.old_user_id.as_str();
        let new = UserId::parse(new_id).map_err(|_| CoreError::UnknownUser(new_id.to_owned()))?;
        let job = jobs.job(old, new_id).await.map_err(store_err)?;
        if job.state == "deactivated" {
            return self.migration_report(jobs, old, new_id).await;
        }
        if let Some(Verification { verified: false, reason, .. }) = &plan.verification {
            let reason = reason.clone().unwrap_or_default();
            jobs.set_job_state(old, new_id, "refused", Some(&reason)).await.map_err(store_err)?;
            self.audit_detail("migration_refused", None, Some(&format!("{old} -> {new_id}: {reason}"))).await;
            return Err(CoreError::MigrationRefused { new_user_id: new_id.to_owned(), reason });
        }
        for room in &plan.rooms {
            let row = MigrationRoom {
                room_id: room.room_id.clone(),
                space_id: room.space_id.clone(),
                level: room.level,
                state: String::new(),
                error: None,
            };
            jobs.add_room(old, new_id, &row).await.map_err(store_err)?;
        }
        if job.state != "waiting" {
            jobs.set_job_state(old, new_id, "inviting", None).await.map_err(store_err)?;
        }
        let rows = jobs.rooms(old, new_id).await.map_err(store_err)?;
        if rows.iter().any(|r| !matches!(r.state.as_str(), "announced" | "accepted")) {
            self.require_verified_device().await?;
        }
        for row in rows {
            if matches!(row.state.as_str(), "announced" | "accepted") {
                continue;
            }
            if let Err(e) = self.migrate_room(jobs, &row, old, &new, options).await {
                warn!(code = ?e.code(), "a room of the move failed; the next run tries it again");
                jobs.set_room_state(old, new_id, &row.room_id, "failed", Some(&e.to_string()))
                    .await
                    .map_err(store_err)?;
            }
        }
        jobs.set_job_state(old, new_id, "waiting", None).await.map_err(store_err)?;
        self.refresh_accepted(jobs, old, &new).await?;
        let mut report = self.migration_report(jobs, old, new_id).await?;
        if let Some(how) = options.deactivate_with {
            self.maybe_deactivate(plan, jobs, &mut report, how, options, job.created_ms).await?;
        }
        Ok(report)
    }

    /// The SDK shares a room's history with an invitee only from a device
    /// its owner verified (identity-based sharing): otherwise every invite to
    /// an encrypted room fails, so the job does not start.
    async fn require_verified_device(&self) -> Result<(), CoreError> {
        match self.client.encryption().get_own_device().await {
            Ok(Some(device)) if device.is_cross_signed_by_owner() => Ok(()),
            _ => Err(CoreError::DeviceNotVerified),
        }
    }

    async fn migrate_room(
        &self,
        jobs: &MigrationJobs,
        row: &MigrationRoom,
        old: &str,
        new: &UserId,
        options: &RunOptions<'_>,
    ) -> Result<(), CoreError> {
        let room = self.joined_room(&row.room_id)?;
        let now = membership_on_server(&room, new).await?;
        let membership = now.as_ref().and_then(|m| m["membership"].as_str()).unwrap_or("leave");
        let marked = now.as_ref().is_some_and(|m| m[MIGRATION_MARKER]["from"] == old);
        // A step already written down (by a run that stopped right after it)
        // is not a step again.
        let step = |state: &'static str, note: Option<String>| async move {
            if row.state != state {
                jobs.set_room_state(old, new.as_str(), &row.room_id, state, note.as_deref())
                    .await
                    .map_err(store_err)?;
                (options.after_step)(state);
            }
            Ok::<(), CoreError>(())
        };
        if membership == "join" {
            return step("accepted", row.error.clone()).await;
        }
        let levels = fetch_power_levels(&room).await?;
        let mut level_pending = false;
        if !(membership == "invite" && marked) {
            if level_of(&room, new, &levels) != row.level {
                match set_user_level(&room, new, Role::from_level(row.level)).await {
                    Ok(()) => {}
                    // Below 75 the old account may invite, not set levels: a lead must.
                    Err(CoreError::NotPermitted(_)) => level_pending = true,
                    Err(e) => return Err(e),
                }
            }
            step("level_set", None).await?;
            if membership != "invite" {
                // The SDK's invite shares the keys of the history the room's
                // visibility lets the newcomer read (MSC4268).
                room.invite_user_by_id(new).await?;
            }
            let space_id = row.space_id.as_deref().unwrap_or(&row.room_id);
            let client = self.client_of(space_id).await?;
            let content = json!({
                "membership": "invite",
                "reason": "Overstap naar een nieuw account (verhuizing van leverancier)",
                INVITE_CONTEXT: invite_context(&client),
                MIGRATION_MARKER: {"from": old, "to": new.as_str()},
            });
            room.send_state_event_raw("m.room.member", new.as_str(), content).await?;
            room.mark_members_missing();
            self.audit_detail(
                "migration_invite",
                Some(&row.room_id),
                Some(&format!("{old} -> {new} at {}", row.level)),
            )
            .await;
            step("invited", None).await?;
        }
        // One notice per room and move: the transaction id makes a rerun's
        // second send the same event.
        let name = if self.own_user_id()?.as_str() == old {
            self.client.account().get_display_name().await.ok().flatten()
        } else {
            // A lead runs the move: the name the room knows the old account by.
            let old_id = UserId::parse(old).map_err(|_| CoreError::UnknownUser(old.to_owned()))?;
            room.get_member_no_sync(&old_id).await.ok().flatten().and_then(|m| m.display_name().map(str::to_owned))
        }
        .unwrap_or_else(|| old.to_owned());
        // Resumed after the invite: the level as the homeserver has it now.
        let level_pending =
            level_pending || (membership == "invite" && marked && level_of(&room, new, &levels) != row.level);
        let mut body = format!(
            "{name} stapt over naar een nieuw account ({new}) bij een andere leverancier. \
             Het oude account ({old}) wordt opgeheven zodra de overstap klaar is."
        );
        if level_pending {
            let role = Role::from_level(row.level).as_str();
            body.push_str(&format!(" Regievoerder: geef het nieuwe account de rol {role} ({}).", row.level));
        }
        let content = json!({"msgtype": "m.notice", "body": body, MIGRATION_MARKER: {"from": old, "to": new.as_str()}});
        let txn = OwnedTransactionId::from(format!("kring-migration-{}", short_hash(&format!("{old}{new}"))));
        room.send_raw("m.room.message", content).with_transaction_id(&txn).await?;
        (options.after_step)("notice_sent");
        let note =
            level_pending.then(|| format!("{LEVEL_PENDING}: a lead must give the new account level {}", row.level));
        step("announced", note).await
    }

    /// Marks rooms where the new account has joined since.
    async fn refresh_accepted(&self, jobs: &MigrationJobs, old: &str, new: &UserId) -> Result<(), CoreError> {
        for row in jobs.rooms(old, new.as_str()).await.map_err(store_err)? {
            if row.state == "accepted" {
                continue;
            }
            let Ok(room) = self.joined_room(&row.room_id) else { continue };
            let joined = membership_on_server(&room, new).await?.is_some_and(|m| m["membership"] == "join");
            if joined {
                jobs.set_room_state(old, new.as_str(), &row.room_id, "accepted", row.error.as_deref())
                    .await
                    .map_err(store_err)?;
                self.audit_detail("migration_accepted", Some(&row.room_id), Some(new.as_str())).await;
            }
        }
        Ok(())
    }

    /// The job as it stands (with the rooms' acceptance asked again).
    pub async fn migration_status(&self, jobs: &MigrationJobs) -> Result<Vec<MigrationReport>, CoreError> {
        let mut reports = Vec::new();
        for job in jobs.jobs().await.map_err(store_err)? {
            if job.state != "deactivated"
                && let Ok(new) = UserId::parse(&job.new_user_id)
            {
                self.refresh_accepted(jobs, &job.old_user_id, &new).await?;
            }
            reports.push(self.migration_report(jobs, &job.old_user_id, &job.new_user_id).await?);
        }
        Ok(reports)
    }

    async fn migration_report(&self, jobs: &MigrationJobs, old: &str, new: &str) -> Result<MigrationReport, CoreError> {
        let job = jobs.job(old, new).await.map_err(store_err)?;
        let rooms = jobs.rooms(old, new).await.map_err(store_err)?;
        let count = |states: &[&str]| rooms.iter().filter(|r| states.contains(&r.state.as_str())).count();
        Ok(MigrationReport {
            old_user_id: old.to_owned(),
            new_user_id: new.to_owned(),
            deactivated: job.state == "deactivated",
            state: job.state,
            rooms: rooms.len(),
            invited: count(&["invited", "announced", "accepted"]),
            accepted: count(&["accepted"]),
            failed: count(&["failed"]),
            level_pending: rooms
                .iter()
                .filter(|r| r.error.as_deref().is_some_and(|e| e.starts_with(LEVEL_PENDING)))
                .count(),
            blocked: Vec::new(),
            leads_told: job.leads_told_ms.is_some(),
        })
    }
}

fn short_hash(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(uzi: &str, ura: &[&str], roles: &[&str]) -> VerifiedIdentity {
        VerifiedIdentity {
            uzi: Some(uzi.into()),
            ura: ura.iter().map(|s| (*s).to_owned()).collect(),
            role_codes: roles.iter().map(|s| (*s).to_owned()).collect(),
            identity_service: "https://is.example/".into(),
        }
    }

    #[test]
    fn a_move_needs_the_same_uzi_the_organisations_ura_and_the_role() {
        let old = identity("900001", &["1001"], &["01.015"]);
        let codes = vec!["01.015".to_owned()];
        assert_eq!(
            check_identity(&old, Some(&identity("900001", &["1001"], &["01.015"])), Some("1001"), &codes),
            Ok(())
        );
        assert!(check_identity(&old, None, Some("1001"), &codes).is_err(), "nothing bound");
        let other_person = identity("900002", &["1001"], &["01.015"]);
        assert!(check_identity(&old, Some(&other_person), Some("1001"), &codes).unwrap_err().contains("UZI"));
        let other_org = identity("900001", &["2002"], &["01.015"]);
        assert!(check_identity(&old, Some(&other_org), Some("1001"), &codes).unwrap_err().contains("URA"));
        let other_role = identity("900001", &["1001"], &["30.000"]);
        assert!(check_identity(&old, Some(&other_role), Some("1001"), &codes).unwrap_err().contains("role"));
    }
}
