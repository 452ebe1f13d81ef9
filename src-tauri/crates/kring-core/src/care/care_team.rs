//! A client's care team: a Matrix space whose members are the people involved.
//!
//! The space itself carries no client data: its name is neutral. Who the
//! client is travels only in the invite (`nl-ta-chat.invite.context`, 001
//! §4), sent as the invitee's `m.room.member` state event because the plain
//! invite API carries only a reason. Each Kring keeps the space↔client link
//! in its own database.

use std::collections::BTreeMap;

use kring_store::ClientLink;
use matrix_sdk::{
    Room, RoomMemberships,
    deserialized_responses::RawAnySyncOrStrippedState,
    ruma::{
        OwnedUserId, UserId,
        api::client::room::{
            Visibility,
            create_room::v3::{Request as CreateRoomRequest, RoomPreset},
        },
        events::{
            StateEventType,
            room::{member::MembershipState, power_levels::UserPowerLevel},
        },
        serde::Raw,
    },
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    CoreError, Session,
    power_levels::{Role, room_power_levels},
};

pub const INVITE_CONTEXT: &str = "nl-ta-chat.invite.context";
pub const PSEUDO_BSN_SYSTEM: &str = "http://fhir.nl/fhir/NamingSystem/pseudo-bsn";
/// The name every care-team space has on the server: never the client's.
pub const SPACE_NAME: &str = "Zorgteam";

/// The client as the user knows them. Never logged (the Debug is redacted).
#[derive(Clone, PartialEq, Eq, serde::Deserialize, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ClientRef {
    pub display_name: String,
    pub pseudo_bsn: String,
}

impl std::fmt::Debug for ClientRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientRef { .. }")
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CareTeam {
    pub space_id: String,
    pub client_name: String,
    /// Over the team's conversations: what the client list shows and
    /// sorts on ("needs attention": urgent unread, then unread, then recent).
    pub unread_count: u32,
    /// Unread urgent messages and mentions (see `ConversationSummary`).
    pub unread_highlights: u32,
    pub last_activity_ms: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct CareTeamInvite {
    pub space_id: String,
    pub inviter: Option<String>,
    pub client: ClientRef,
}

#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: String,
    pub display_name: String,
    pub role: Role,
    pub joined: bool,
}

/// The invite context of 001 §4, with the client's name so the receiving
/// Kring can show the client without asking anyone. 001's example has
/// `"version": 1.0`, but Matrix canonical JSON forbids floats (Synapse
/// rejects the event with M_BAD_JSON), so the version is the string "1.0".
pub fn invite_context(client: &ClientRef) -> Value {
    json!({
        "version": "1.0",
        "room.subject": {
            "resourceType": "Patient",
            "identifier": [{ "system": PSEUDO_BSN_SYSTEM, "value": client.pseudo_bsn }],
            "name": [{ "text": client.display_name }],
        }
    })
}

/// Reads a client from an `m.room.member` content carrying an invite context.
pub fn client_from_member_content(content: &Value) -> Option<ClientRef> {
    let subject = content.get(INVITE_CONTEXT)?.get("room.subject")?;
    if subject.get("resourceType")?.as_str()? != "Patient" {
        return None;
    }
    let pseudo_bsn = subject
        .get("identifier")?
        .as_array()?
        .iter()
        .find(|i| i.get("system").and_then(Value::as_str) == Some(PSEUDO_BSN_SYSTEM))?
        .get("value")?
        .as_str()?
        .to_owned();
    let display_name = subject
        .get("name")
        .and_then(|n| n.get(0))
        .and_then(|n| n.get("text"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| "Cliënt".to_owned());
    Some(ClientRef { display_name, pseudo_bsn })
}

pub(crate) fn raw<T>(value: &Value) -> Result<Raw<T>, CoreError> {
    Raw::new(value).map(Raw::cast_unchecked).map_err(|e| CoreError::Internal(e.to_string()))
}

/// The room's power levels as the homeserver has them now. The local store
/// may lag (a room created a moment ago has none yet), and writing back a
/// stale copy would undo someone else's change.
pub(crate) async fn fetch_power_levels(room: &Room) -> Result<Value, CoreError> {
    use matrix_sdk::ruma::api::client::state::get_state_event_for_key::v3::Request;
    let request = Request::new(room.room_id().to_owned(), StateEventType::RoomPowerLevels, String::new());
    let response = room.client().send(request).await?;
    serde_json::from_str(response.event_or_content.get()).map_err(|e| CoreError::Internal(e.to_string()))
}

/// Gives one user a role's level in a room, keeping every other level as the
/// homeserver has it now.
pub(crate) async fn set_user_level(room: &Room, user: &UserId, role: Role) -> Result<(), CoreError> {
    let mut levels = fetch_power_levels(room).await?;
    levels["users"][user.as_str()] = json!(role.level());
    room.send_state_event_raw("m.room.power_levels", "", levels).await.map_err(permission_err)?;
    Ok(())
}

/// A member's role in a care team; someone not in it has none.
pub(crate) async fn role_in_care_team(space: &Room, user: &UserId) -> Result<Role, CoreError> {
    members_of(space)
        .await?
        .into_iter()
        .find(|m| m.user_id == user.as_str())
        .map(|m| m.role)
        .ok_or_else(|| CoreError::RecipientNotInCareTeam(user.to_string()))
}

pub(crate) fn role_of(level: UserPowerLevel) -> Role {
    match level {
        UserPowerLevel::Infinite => Role::Lead,
        UserPowerLevel::Int(l) => Role::from_level(i64::from(l)),
        _ => Role::Client,
    }
}

impl Session {
    pub(crate) fn joined_room(&self, room_id: &str) -> Result<Room, CoreError> {
        let room_id =
            matrix_sdk::ruma::OwnedRoomId::try_from(room_id).map_err(|_| CoreError::UnknownRoom(room_id.to_owned()))?;
        self.client
            .get_room(&room_id)
            .filter(|r| r.state() == matrix_sdk::RoomState::Joined)
            .ok_or_else(|| CoreError::UnknownRoom(room_id.to_string()))
    }

    /// Joins `room`, then waits (at most 15 s) until sync shows the join.
    ///
    /// The SDK marks the room joined at once, but a sync response already
    /// on its way still lists the invite and turns the room back to invited;
    /// whoever uses the room next finds it unknown (seen in CI: a timeline
    /// opened right after joining). Our own join member event arrives only
    /// with a sync that saw the join, and the room's state with it.
    pub(crate) async fn join_and_settle(&self, room: &Room) -> Result<(), CoreError> {
        room.join().await?;
        self.settle_join(room).await
    }

    /// Waits (at most 15 s) until sync shows our join of `room`.
    pub(crate) async fn settle_join(&self, room: &Room) -> Result<(), CoreError> {
        let me = self.own_user_id()?;
        let settled = async {
            loop {
                let member = room.get_member_no_sync(&me).await.ok().flatten();
                if room.state() == matrix_sdk::RoomState::Joined
                    && member.is_some_and(|m| *m.membership() == MembershipState::Join)
                {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        };
        if tokio::time::timeout(std::time::Duration::from_secs(15), settled).await.is_err() {
            tracing::warn!("joined, but sync has not shown the join within 15 s");
        }
        Ok(())
    }

    pub(crate) fn own_user_id(&self) -> Result<OwnedUserId, CoreError> {
        self.client.user_id().map(ToOwned::to_owned).ok_or(CoreError::NotLoggedIn)
    }

    /// Creates the care team of a client, with this user as its lead.
    pub async fn create_care_team(&self, client: &ClientRef) -> Result<CareTeam, CoreError> {
        if client.display_name.trim().is_empty() || client.pseudo_bsn.trim().is_empty() {
            return Err(CoreError::ClientIncomplete);
        }
        let mut request = CreateRoomRequest::new();
        request.name = Some(SPACE_NAME.to_owned());
        request.preset = Some(RoomPreset::PrivateChat);
        request.visibility = Visibility::Private;
        request.creation_content = Some(raw(&json!({ "type": "m.space" }))?);
        // The creator leads with unlimited power (room version 12) and must not be listed.
        request.power_level_content_override = Some(raw(&room_power_levels(&BTreeMap::new(), None))?);
        // The organisation's retention, for the homeserver's purge jobs (compliance::retention).
        if let Some(ms) = self.default_retention() {
            request.initial_state = vec![raw(&json!({"type": crate::compliance::retention::RETENTION_EVENT,
                                                      "state_key": "", "content": {"max_lifetime": ms}}))?];
        }
        let space = self.client.create_room(request).await?;
        let link = ClientLink {
            space_id: space.room_id().to_string(),
            display_name: client.display_name.trim().to_owned(),
            pseudo_bsn: client.pseudo_bsn.trim().to_owned(),
        };
        self.store.link_client_space(&link).await.map_err(store_err)?;
        self.remember_in_vault(&link).await;
        self.audit("create_care_team", Some(space.room_id().as_str())).await;
        Ok(self.care_team(link.space_id, link.display_name).await)
    }

    /// Invites someone into a client's care team with a role. Their level is
    /// set before the invite, so they hold their role from the moment they join.
    pub async fn invite_to_care_team(&self, space_id: &str, user_id: &str, role: Role) -> Result<(), CoreError> {
        let space = self.joined_room(space_id)?;
        let client = self.client_of(space_id).await?;
        let user = UserId::parse(user_id).map_err(|_| CoreError::UnknownUser(user_id.to_owned()))?;
        set_user_level(&space, &user, role).await?;
        let content = json!({
            "membership": "invite",
            "reason": "Uitgenodigd voor een zorgteam",
            INVITE_CONTEXT: invite_context(&client),
        });
        space.send_state_event_raw("m.room.member", user.as_str(), content).await.map_err(permission_err)?;
        self.audit_detail("invite_to_care_team", Some(space_id), Some(&format!("{user} as {}", role.as_str()))).await;
        Ok(())
    }

    /// Changes a member's role in a care team and in each of its
    /// conversations they are in, so one person has one role per client.
    /// Each change is a power-levels event in the room (the shared record)
    /// and an audit entry here (who changed whom, from what to what).
    pub async fn set_care_team_role(&self, space_id: &str, user_id: &str, role: Role) -> Result<(), CoreError> {
        let space = self.joined_room(space_id)?;
        self.client_of(space_id).await?;
        let user = UserId::parse(user_id).map_err(|_| CoreError::UnknownUser(user_id.to_owned()))?;
        let before = role_in_care_team(&space, &user).await?;
        let mut rooms = vec![space.clone()];
        for summary in self.conversations(space_id).await? {
            if let Some(room) = self.client.get_room(
                <&matrix_sdk::ruma::RoomId>::try_from(summary.room_id.as_str())
                    .map_err(|e| CoreError::Internal(e.to_string()))?,
            ) && summary.participants.iter().any(|p| p.user_id == user.as_str())
            {
                rooms.push(room);
            }
        }
        for room in rooms {
            set_user_level(&room, &user, role).await?;
            let detail = format!("{user} {} -> {}", before.as_str(), role.as_str());
            self.audit_detail("set_role", Some(room.room_id().as_str()), Some(&detail)).await;
        }
        Ok(())
    }

    /// The client a care-team space is about, on this device.
    pub async fn client_of(&self, space_id: &str) -> Result<ClientRef, CoreError> {
        self.store
            .client_for_space(space_id)
            .await
            .map_err(store_err)?
            .map(|l| ClientRef { display_name: l.display_name, pseudo_bsn: l.pseudo_bsn })
            .ok_or_else(|| CoreError::NotACareTeam(space_id.to_owned()))
    }

    /// Care-team invites waiting for this user, with the client they are about.
    pub async fn care_team_invites(&self) -> Result<Vec<CareTeamInvite>, CoreError> {
        let mut invites = Vec::new();
        for room in self.client.invited_rooms() {
            if let Some(client) = self.invited_client(&room).await? {
                let inviter = room.invite_details().await.ok().and_then(|d| d.inviter).map(|m| m.user_id().to_string());
                invites.push(CareTeamInvite { space_id: room.room_id().to_string(), inviter, client });
            }
        }
        Ok(invites)
    }

    async fn invited_client(&self, room: &Room) -> Result<Option<ClientRef>, CoreError> {
        let me = self.own_user_id()?;
        let Some(event) = room.get_state_event(StateEventType::RoomMember, me.as_str()).await? else {
            return Ok(None);
        };
        let json = state_json(&event).map_err(|e| CoreError::Internal(e.to_string()))?;
        Ok(json.get("content").and_then(client_from_member_content))
    }

    /// The client a pending invite (to a care team or one of its
    /// conversations) is about, from its `nl-ta-chat.invite.context`; `None`
    /// when the invite carries none. Lets the invitee's system link a
    /// conversation to the client even when it meets that invite first.
    pub async fn invite_context_client(&self, room_id: &str) -> Result<Option<ClientRef>, CoreError> {
        let id =
            matrix_sdk::ruma::OwnedRoomId::try_from(room_id).map_err(|_| CoreError::UnknownRoom(room_id.to_owned()))?;
        let room = self.client.get_room(&id).ok_or_else(|| CoreError::UnknownRoom(room_id.to_owned()))?;
        self.invited_client(&room).await
    }

    /// Joins a care team and remembers which client it is about.
    pub async fn accept_care_team_invite(&self, space_id: &str) -> Result<CareTeam, CoreError> {
        let room_id = matrix_sdk::ruma::OwnedRoomId::try_from(space_id)
            .map_err(|_| CoreError::UnknownRoom(space_id.to_owned()))?;
        let room = self.client.get_room(&room_id).ok_or_else(|| CoreError::UnknownRoom(space_id.to_owned()))?;
        let client = self.invited_client(&room).await?.ok_or_else(|| CoreError::NotACareTeam(space_id.to_owned()))?;
        self.join_and_settle(&room).await?;
        self.consume_invite_context(&room).await?;
        let link = ClientLink {
            space_id: space_id.to_owned(),
            display_name: client.display_name.clone(),
            pseudo_bsn: client.pseudo_bsn.clone(),
        };
        self.store.link_client_space(&link).await.map_err(store_err)?;
        self.remember_in_vault(&link).await;
        self.audit("accept_care_team_invite", Some(space_id)).await;
        Ok(self.care_team(space_id.to_owned(), client.display_name).await)
    }

    /// After joining a room whose invite carried the client: the join
    /// replaced the invite, but Synapse still serves the invite's content as
    /// the `prev_content` of this member's current state event. One more
    /// own-membership update pushes the client's identity out of the current
    /// state (it stays only in the invite event's history).
    pub(crate) async fn consume_invite_context(&self, room: &Room) -> Result<(), CoreError> {
        let me = self.own_user_id()?;
        let name = self.client.account().get_display_name().await.ok().flatten();
        let content = json!({ "membership": "join", "displayname": name, "nl.kring.invite_context_consumed": true });
        room.send_state_event_raw("m.room.member", me.as_str(), content).await?;
        Ok(())
    }

    /// The care teams this user is in, named by their client.
    pub async fn care_teams(&self) -> Result<Vec<CareTeam>, CoreError> {
        let links = self.store.client_links().await.map_err(store_err)?;
        let mut teams = Vec::new();
        for link in links.into_iter().filter(|l| self.joined_room(&l.space_id).is_ok()) {
            teams.push(self.care_team(link.space_id, link.display_name).await);
        }
        Ok(teams)
    }

    /// A care team with its conversations' unread counts and last activity
    /// (local room state only: no request, no member list).
    async fn care_team(&self, space_id: String, client_name: String) -> CareTeam {
        let mut team =
            CareTeam { space_id, client_name, unread_count: 0, unread_highlights: 0, last_activity_ms: None };
        for room in self.conversation_rooms(&team.space_id).await.unwrap_or_default() {
            let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
            team.unread_count = team.unread_count.saturating_add(count(room.num_unread_messages()));
            team.unread_highlights = team.unread_highlights.saturating_add(count(room.num_unread_mentions()));
            let last = room.latest_event_timestamp().map(|ts| u64::from(ts.0) as f64);
            team.last_activity_ms = match (team.last_activity_ms, last) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        team
    }

    /// Everyone in a care team (joined or invited), with their role.
    pub async fn care_team_members(&self, space_id: &str) -> Result<Vec<Member>, CoreError> {
        members_of(&self.joined_room(space_id)?).await
    }
}

pub(crate) async fn members_of(room: &Room) -> Result<Vec<Member>, CoreError> {
    let members = room.members(RoomMemberships::JOIN | RoomMemberships::INVITE).await?;
    Ok(members
        .iter()
        .map(|m| Member {
            user_id: m.user_id().to_string(),
            display_name: m.display_name().unwrap_or(m.user_id().localpart()).to_owned(),
            role: role_of(m.power_level()),
            joined: *m.membership() == matrix_sdk::ruma::events::room::member::MembershipState::Join,
        })
        .collect())
}

/// A state event as JSON, whether the room is joined (sync) or invited (stripped).
pub(crate) fn state_json(raw: &RawAnySyncOrStrippedState) -> Result<Value, serde_json::Error> {
    match raw {
        RawAnySyncOrStrippedState::Sync(r) => r.deserialize_as_unchecked(),
        RawAnySyncOrStrippedState::Stripped(r) => r.deserialize_as_unchecked(),
    }
}

pub(crate) fn store_err(e: kring_store::StoreError) -> CoreError {
    CoreError::Storage(e.to_string())
}

/// A refusal by the homeserver's auth rules is "not permitted", not a bug.
pub(crate) fn permission_err(e: matrix_sdk::Error) -> CoreError {
    use matrix_sdk::ruma::api::error::ErrorKind;
    match e.client_api_error_kind() {
        Some(ErrorKind::Forbidden) => CoreError::NotPermitted(e.to_string()),
        _ => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invite_context_has_the_shape_of_the_specification_and_reads_back() {
        let client = ClientRef { display_name: "J. Kok".into(), pseudo_bsn: "90000000202".into() };
        let content = json!({ "membership": "invite", INVITE_CONTEXT: invite_context(&client) });
        let ctx = &content[INVITE_CONTEXT];
        assert_eq!(ctx["version"], "1.0");
        assert_eq!(ctx["room.subject"]["resourceType"], "Patient");
        assert_eq!(ctx["room.subject"]["identifier"][0]["system"], PSEUDO_BSN_SYSTEM);
        assert_eq!(client_from_member_content(&content), Some(client));
    }

    #[test]
    fn an_invite_without_a_patient_subject_is_not_a_care_team_invite() {
        assert_eq!(client_from_member_content(&json!({ "membership": "invite" })), None);
        let other = json!({ INVITE_CONTEXT: { "room.subject": { "resourceType": "Practitioner" } } });
        assert_eq!(client_from_member_content(&other), None);
        let no_bsn = json!({ INVITE_CONTEXT: { "room.subject": { "resourceType": "Patient", "identifier": [
            { "system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "1" }] } } });
        assert_eq!(client_from_member_content(&no_bsn), None);
    }
}
