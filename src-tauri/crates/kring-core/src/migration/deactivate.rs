//! The old account's end: only when the move is done (or the leads were
//! told), never while a care team depends on it.

use kring_store::MigrationJobs;
use matrix_sdk::ruma::{
    OwnedTransactionId,
    api::client::uiaa::{AuthData, AuthType, Password, UserIdentifier},
};
use serde_json::json;
use tracing::{info, warn};

use super::{Deactivation, MIGRATION_MARKER, MigrationPlan, MigrationReport, RunOptions, short_hash, store_err};
use crate::{CoreError, Role, Session, care_team::role_of};

impl Session {
    /// Deactivates the old account when every invite was accepted, or the
    /// timeout passed and the leads were told; never while a care team
    /// would be left without a lead, nor while the directory still lists it.
    pub(super) async fn maybe_deactivate(
        &self,
        plan: &MigrationPlan,
        jobs: &MigrationJobs,
        report: &mut MigrationReport,
        how: Deactivation<'_>,
        options: &RunOptions<'_>,
        started_ms: i64,
    ) -> Result<(), CoreError> {
        let (old, new) = (plan.old_user_id.as_str(), report.new_user_id.clone());
        let me = self.own_user_id()?;
        if plan.old_still_listed {
            report.blocked.push("the directory still lists the old account".into());
        }
        let all_accepted = report.accepted == report.rooms;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let waited_ms = now_ms.saturating_sub(started_ms);
        let timed_out = u128::try_from(waited_ms).unwrap_or(0) >= options.timeout.as_millis();
        if !all_accepted && !timed_out {
            report.blocked.push(format!(
                "{} of {} invites are not accepted yet",
                report.rooms - report.accepted,
                report.rooms
            ));
        }
        // Level 100 is handed over first: every care team the old account
        // leads must have another joined lead (the new account, once it joined).
        for row in jobs.rooms(old, &new).await.map_err(store_err)?.iter().filter(|r| r.space_id.is_none()) {
            let Ok(space) = self.joined_room(&row.room_id) else { continue };
            let pl = space.power_levels().await.map_err(|e| CoreError::Internal(e.to_string()))?;
            if role_of(pl.for_user(&me)) != Role::Lead {
                continue;
            }
            let others = crate::care_team::members_of(&space).await?;
            let another_lead = others.iter().any(|m| m.user_id != old && m.role == Role::Lead && m.joined);
            if !another_lead {
                report.blocked.push(format!("{} has no other lead yet", row.room_id));
            }
        }
        if !all_accepted && timed_out && !report.leads_told {
            self.tell_leads(jobs, old, &new).await?;
            report.leads_told = true;
        }
        if !report.blocked.is_empty() {
            info!(blocked = report.blocked.len(), "the old account stays active for now");
            return Ok(());
        }
        self.audit_detail("migration_deactivate", None, Some(&format!("{old} -> {new}"))).await;
        // Asked first, so the identity service's token is at hand after the
        // homeserver closed the account.
        self.verified_identity_of(old).await?;
        match how {
            Deactivation::Password(password) => self.deactivate_account(password).await?,
            Deactivation::AdminToken(token) => self.deactivate_as_admin(token).await?,
        }
        // The UZI now belongs to the new account: lookups must find that one.
        // Unbound only after the deactivation took (a mistyped password must
        // not cost the binding).
        if let Err(e) = self.unbind_care_identity().await {
            warn!(code = ?e.code(), "deactivated, but the identity service still holds the old binding");
            report.blocked.push(format!("the old account's binding is still at its identity service: {e}"));
        }
        jobs.set_job_state(old, &new, "deactivated", None).await.map_err(store_err)?;
        (options.after_step)("deactivated");
        report.state = "deactivated".into();
        report.deactivated = true;
        Ok(())
    }

    /// A notice in each care team whose invite stayed unanswered, for its leads.
    async fn tell_leads(&self, jobs: &MigrationJobs, old: &str, new: &str) -> Result<(), CoreError> {
        for row in jobs.rooms(old, new).await.map_err(store_err)? {
            if row.space_id.is_some() || row.state == "accepted" {
                continue;
            }
            let Ok(space) = self.joined_room(&row.room_id) else { continue };
            let body = format!(
                "De overstap van {old} naar {new} is niet afgerond: de uitnodiging voor dit zorgteam is niet \
                 geaccepteerd. Nodig {new} zo nodig zelf uit."
            );
            let content = json!({"msgtype": "m.notice", "body": body, MIGRATION_MARKER: {"from": old, "to": new}});
            let txn = OwnedTransactionId::from(format!("kring-migration-leads-{}", short_hash(&format!("{old}{new}"))));
            space.send_raw("m.room.message", content).with_transaction_id(&txn).await?;
        }
        jobs.set_leads_told(old, new).await.map_err(store_err)?;
        self.audit_detail("migration_leads_told", None, Some(&format!("{old} -> {new}"))).await;
        Ok(())
    }

    /// Synapse's admin API (`POST /_synapse/admin/v1/deactivate/{user}`),
    /// with the vendor administrator's token: no password needed, so SSO-only
    /// accounts can go too. The room memberships end as with the user's own.
    async fn deactivate_as_admin(&self, token: &str) -> Result<(), CoreError> {
        let me = self.own_user_id()?;
        let mut url = self.client.homeserver();
        url.path_segments_mut()
            .map_err(|()| CoreError::Internal("homeserver URL cannot have a path".into()))?
            .pop_if_empty()
            .extend(["_synapse", "admin", "v1", "deactivate", me.as_str()]);
        let answer = self
            .client
            .http_client()
            .post(url)
            .bearer_auth(token)
            .json(&json!({"erase": false}))
            .timeout(std::time::Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| CoreError::HomeserverUnreachable(e.to_string()))?;
        match answer.status().as_u16() {
            200 => Ok(()),
            401 | 403 => Err(CoreError::NotPermitted("this token is not a homeserver administrator's".into())),
            status => Err(CoreError::Internal(format!("the admin API answered {status} to the deactivation"))),
        }
    }

    async fn deactivate_account(&self, password: &str) -> Result<(), CoreError> {
        let account = self.client.account();
        let uiaa = match account.deactivate(None, None, false).await {
            Ok(_) => return Ok(()),
            Err(e) => e.as_uiaa_response().cloned().ok_or_else(|| CoreError::from(e))?,
        };
        if !uiaa.flows.iter().any(|f| f.stages.first() == Some(&AuthType::Password)) {
            return Err(CoreError::ReauthenticationRequired);
        }
        let mut auth = Password::new(UserIdentifier::from(self.own_user_id()?), password.to_owned());
        auth.session = uiaa.session.clone();
        account.deactivate(None, Some(AuthData::Password(auth)), false).await.map_err(|e| {
            match e.as_uiaa_response() {
                Some(_) => CoreError::WrongCredentials,
                None => e.into(),
            }
        })?;
        Ok(())
    }
}
