//! Invites by e-mail for related persons and clients (001 §3, §6): the
//! practitioner names an address and a relation; the homeserver stores a
//! third-party invite at its identity service, which mails the invitee. Once
//! they have an account and bind the address there, the service hands the
//! invite back to the homeserver (`/3pid/onbind`), which turns it into a
//! real invite. The inviter's Kring then finishes it as Kring invites are:
//! the level of the role, the relation, and the client's identity in the
//! invite (`nl-ta-chat.invite.context`), which a mail never carries.

use matrix_sdk::{
    Room,
    ruma::{
        UserId,
        api::client::{
            membership::{Invite3pidInit, invite_user},
            state::get_state_event_for_key,
        },
        events::StateEventType,
        thirdparty::Medium,
    },
};
use serde_json::{Value, json};
use tracing::info;

use crate::{
    CoreError, Role, Session,
    care_network::RELATION_EVENT,
    care_team::{INVITE_CONTEXT, invite_context, permission_err, set_user_level},
};

/// The state key (in `nl.kring.relation`) of the role and relation meant
/// for a third-party invite, until the invitee is known by their MXID.
pub(crate) const PENDING_PREFIX: &str = "email_invite:";

impl Session {
    /// Invites `address` into a care team by e-mail, as `role` (a related
    /// person or the client) with their `relation` to the client.
    pub async fn invite_by_email(
        &self,
        space_id: &str,
        address: &str,
        role: Role,
        relation: Option<&str>,
    ) -> Result<(), CoreError> {
        let address = checked_email(address)?;
        if !matches!(role, Role::RelatedPerson | Role::Client) {
            // Practitioners are found in the directory and invited by MXID.
            return Err(CoreError::NotYetSupported("e-mail invites are for related persons and clients".into()));
        }
        let space = self.joined_room(space_id)?;
        self.client_of(space_id).await?;
        // Someone who bound this address already (invited to another care
        // team before): the homeserver would invite that account directly,
        // leaving no third-party invite to finish. Invited by MXID here, with
        // level, relation and the client's identity at once.
        if let Some(mxid) = self.mxid_for_email(address).await? {
            self.invite_to_care_team(space_id, &mxid, role).await?;
            if let Some(relation) = relation.map(str::trim).filter(|r| !r.is_empty()) {
                self.set_relation(space_id, &mxid, relation).await?;
            }
            self.audit_detail("invite_by_email", Some(space_id), Some(&format!("{} (bound)", role.as_str()))).await;
            info!(space = %space_id, "care-team invite by e-mail went to the account bound to it");
            return Ok(());
        }
        let before = third_party_tokens(self, &space).await?;
        let account = self.is_account().await?;
        let recipient = invite_user::v3::InvitationRecipient::ThirdPartyId(
            Invite3pidInit {
                id_server: account.id_server(),
                id_access_token: account.token.to_string(),
                medium: Medium::Email,
                address: address.to_owned(),
            }
            .into(),
        );
        let request = invite_user::v3::Request::new(space.room_id().to_owned(), recipient);
        self.client.send(request).await.map_err(|e| map_invite_error(e.into()))?;
        let token = third_party_tokens(self, &space)
            .await?
            .into_iter()
            .find(|t| !before.contains(t))
            .ok_or_else(|| CoreError::Internal("the homeserver made no third-party invite".into()))?;
        let me = self.own_user_id()?;
        let pending = json!({"role": role.as_str(), "relation": relation.map(str::trim).unwrap_or_default(),
            "invited_by": me.as_str()});
        space
            .send_state_event_raw(RELATION_EVENT, &format!("{PENDING_PREFIX}{token}"), pending)
            .await
            .map_err(permission_err)?;
        self.audit_detail("invite_by_email", Some(space_id), Some(role.as_str())).await;
        info!(space = %space_id, "care-team invite sent by e-mail");
        Ok(())
    }

    /// Finishes every e-mail invite of this care team that has become a
    /// real invite and that this user sent. Returns how many.
    pub async fn complete_email_invites(&self, space_id: &str) -> Result<usize, CoreError> {
        let space = self.joined_room(space_id)?;
        let mut done = 0;
        for event in space_state(self, &space).await? {
            if event["type"] == "m.room.member" && complete(self, &space, &event).await? {
                done += 1;
            }
        }
        Ok(done)
    }
}

/// An address the identity service will take: one `@`, a dotted domain.
/// Checked here so a typing error gets its own code before any request.
pub(crate) fn checked_email(address: &str) -> Result<&str, CoreError> {
    let address = address.trim();
    match address.split_once('@') {
        Some((local, domain)) if !local.is_empty() && domain.contains('.') && !domain.contains('@') => Ok(address),
        _ => Err(CoreError::EmailInvalid),
    }
}

fn map_invite_error(e: matrix_sdk::Error) -> CoreError {
    let text = e.to_string();
    if text.contains("M_THREEPID_IN_USE") { CoreError::EmailInUse } else { permission_err(e) }
}

async fn space_state(session: &Session, space: &Room) -> Result<Vec<Value>, CoreError> {
    use matrix_sdk::ruma::api::client::state::get_state_events::v3::Request;
    let answer = session.client.send(Request::new(space.room_id().to_owned())).await?;
    Ok(answer.room_state.iter().filter_map(|e| e.deserialize_as_unchecked().ok()).collect())
}

async fn third_party_tokens(session: &Session, space: &Room) -> Result<Vec<String>, CoreError> {
    Ok(space_state(session, space)
        .await?
        .iter()
        .filter(|e| e["type"] == "m.room.third_party_invite")
        .filter_map(|e| e["state_key"].as_str().map(str::to_owned))
        .collect())
}

/// One member event: when it is an invite made from a third-party invite
/// this user sent, and not finished yet, gives the invitee their level and
/// relation and re-sends the invite with the client's identity.
async fn complete(session: &Session, space: &Room, member: &Value) -> Result<bool, CoreError> {
    let content = &member["content"];
    let Some(token) = content["third_party_invite"]["signed"]["token"].as_str() else { return Ok(false) };
    if content["membership"] != "invite" || content.get(INVITE_CONTEXT).is_some() {
        return Ok(false);
    }
    let Some(invitee) = member["state_key"].as_str().and_then(|s| UserId::parse(s).ok()) else { return Ok(false) };
    let key = format!("{PENDING_PREFIX}{token}");
    let request = get_state_event_for_key::v3::Request::new(
        space.room_id().to_owned(),
        StateEventType::from(RELATION_EVENT),
        key.clone(),
    );
    let Ok(answer) = session.client.send(request).await else { return Ok(false) };
    let pending: Value = serde_json::from_str(answer.event_or_content.get()).unwrap_or(Value::Null);
    let me = session.own_user_id()?;
    if pending["invited_by"] != me.as_str() {
        return Ok(false);
    }
    let role = if pending["role"] == "client" { Role::Client } else { Role::RelatedPerson };
    let client = session.client_of(space.room_id().as_str()).await?;
    set_user_level(space, &invitee, role).await?;
    if let Some(relation) = pending["relation"].as_str().filter(|r| !r.is_empty()) {
        session.set_relation(space.room_id().as_str(), invitee.as_str(), relation).await?;
    }
    let invite = json!({
        "membership": "invite",
        "reason": "Uitgenodigd voor een zorgteam",
        INVITE_CONTEXT: invite_context(&client),
    });
    space.send_state_event_raw("m.room.member", invitee.as_str(), invite).await.map_err(permission_err)?;
    space.send_state_event_raw(RELATION_EVENT, &key, json!({})).await.map_err(permission_err)?;
    session
        .audit_detail(
            "complete_email_invite",
            Some(space.room_id().as_str()),
            Some(&format!("{invitee} as {}", role.as_str())),
        )
        .await;
    info!(space = %space.room_id(), "e-mail invite finished");
    Ok(true)
}
