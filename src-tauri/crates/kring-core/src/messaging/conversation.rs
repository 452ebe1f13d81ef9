//! Conversations (001 UC2, UC3, UC6): encrypted rooms inside a care-team
//! space, with a subject, a type and a shared status.

use std::collections::BTreeMap;

use matrix_sdk::{
    Room,
    ruma::{
        OwnedUserId,
        api::client::room::{
            Visibility,
            create_room::v3::{Request as CreateRoomRequest, RoomPreset},
        },
        events::StateEventType,
    },
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    CoreError, Session,
    attachment::NewAttachment,
    care_team::{Member, fetch_power_levels, members_of, permission_err, raw, role_in_care_team, set_user_level},
    power_levels::{CONVERSATION_EVENT, Role, STATUS_EVENT, room_power_levels},
};

pub const SUBJECT_MAX_CHARS: usize = 50;

/// The topic of a sensitive conversation: the flag itself. `m.room.topic`
/// is state every client syncs (the room list included), so every list and
/// notification on every device knows it at once, and another vendor's
/// client shows the same word.
pub const SENSITIVE_TOPIC: &str = "Vertrouwelijk gesprek";

/// Whether a room is a sensitive conversation: lists and notifications
/// name it "Vertrouwelijk gesprek" instead of its subject.
pub fn is_sensitive(room: &Room) -> bool {
    room.topic().is_some_and(|t| t == SENSITIVE_TOPIC)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    /// Professionals only: the client and related persons are not members.
    Professional,
    /// The client and related persons take part with their levels.
    ClientInclusive,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    Active,
    Archived,
}

#[derive(Clone, Debug, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NewConversation {
    pub space_id: String,
    pub subject: String,
    pub body: String,
    pub recipients: Vec<String>,
    pub kind: ConversationKind,
    /// Files sent with the first message, at most five.
    #[serde(default)]
    pub attachments: Vec<NewAttachment>,
    /// Hide the subject in lists and notifications.
    #[serde(default)]
    pub sensitive: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ConversationSummary {
    pub room_id: String,
    pub subject: String,
    pub kind: ConversationKind,
    pub status: ConversationStatus,
    pub participants: Vec<Member>,
    /// False for a conversation this user is invited to but has not opened yet.
    pub joined: bool,
    pub unread_count: u32,
    /// Unread messages that highlight: urgent ones and mentions of this
    /// user (the push rules' highlight, counted on this device after
    /// decryption). What "needs attention" sorts on.
    pub unread_highlights: u32,
    pub last_activity_ms: Option<f64>,
    /// Lists and notifications say "Vertrouwelijk gesprek", not the subject.
    pub sensitive: bool,
}

/// Who reads what was said before they came (UC6): newly added professionals
/// read a professional conversation's history; in a conversation with the
/// client, everyone reads from their invite on, so a related person added
/// later never reads what the professionals said before.
pub fn history_visibility(kind: ConversationKind) -> &'static str {
    match kind {
        ConversationKind::Professional => "shared",
        ConversationKind::ClientInclusive => "invited",
    }
}

/// An invite as the member event itself, carrying the invite context.
async fn invite_with_context(
    room: &Room,
    user: &matrix_sdk::ruma::UserId,
    client: &crate::ClientRef,
) -> Result<(), CoreError> {
    let content = json!({
        "membership": "invite",
        "reason": "Uitgenodigd voor een gesprek in een zorgteam",
        crate::care_team::INVITE_CONTEXT: crate::care_team::invite_context(client),
    });
    room.send_state_event_raw("m.room.member", user.as_str(), content).await.map_err(permission_err)?;
    // The next message must be encrypted for the invitee too: the SDK reads
    // the members again instead of waiting for the sync to bring the invite.
    room.mark_members_missing();
    Ok(())
}

/// Checks a new conversation against the care team before anything is sent.
pub fn validate(new: &NewConversation, team: &BTreeMap<String, Role>, me: &str) -> Result<(), CoreError> {
    let subject = new.subject.trim();
    if subject.is_empty() {
        return Err(CoreError::SubjectMissing);
    }
    let length = subject.chars().count();
    if length > SUBJECT_MAX_CHARS {
        return Err(CoreError::SubjectTooLong { length });
    }
    if new.body.trim().is_empty() {
        return Err(CoreError::BodyMissing);
    }
    crate::attachment::validate(&new.attachments)?;
    let others: Vec<&String> = new.recipients.iter().filter(|r| r.as_str() != me).collect();
    if others.is_empty() {
        return Err(CoreError::RecipientsMissing);
    }
    for recipient in others {
        let role = team.get(recipient).ok_or_else(|| CoreError::RecipientNotInCareTeam(recipient.clone()))?;
        if new.kind == ConversationKind::Professional && !role.is_professional() {
            return Err(CoreError::NotInProfessionalConversation(recipient.clone()));
        }
    }
    Ok(())
}

fn state_field(content: Option<Value>, field: &str) -> Option<String> {
    content?.get(field)?.as_str().map(str::to_owned)
}

impl Session {
    /// The content of one of Kring's own state events. matrix-sdk-ui's room
    /// list syncs a fixed set of state types, never custom ones, so the
    /// homeserver is asked; offline, the local copy (if any) answers.
    async fn state_content(&self, room: &Room, event_type: &str) -> Option<Value> {
        use matrix_sdk::ruma::api::client::state::get_state_event_for_key::v3::Request;
        let request = Request::new(room.room_id().to_owned(), StateEventType::from(event_type), String::new());
        match room.client().send(request).await {
            Ok(response) => return serde_json::from_str(response.event_or_content.get()).ok(),
            Err(e) if e.client_api_error_kind().is_some() => return None, // e.g. M_NOT_FOUND
            Err(_) => {}                                                  // offline: fall back
        }
        let raw = room.get_state_event(StateEventType::from(event_type), "").await.ok()??;
        let event = crate::care_team::state_json(&raw).ok()?;
        event.get("content").cloned()
    }

    /// Starts a conversation in a client's care team: validates everything
    /// first, then creates the encrypted room as a child of the space, invites
    /// the recipients and queues the first message.
    pub async fn start_conversation(&self, new: &NewConversation) -> Result<String, CoreError> {
        let space = self.joined_room(&new.space_id)?;
        self.client_of(&new.space_id).await?;
        let me = self.own_user_id()?;
        let team: BTreeMap<String, Role> = members_of(&space).await?.into_iter().map(|m| (m.user_id, m.role)).collect();
        validate(new, &team, me.as_str())?;

        let recipients: Vec<OwnedUserId> = new
            .recipients
            .iter()
            .filter(|r| r.as_str() != me.as_str())
            .map(|r| OwnedUserId::try_from(r.as_str()).map_err(|_| CoreError::UnknownUser(r.clone())))
            .collect::<Result<_, _>>()?;
        // Each participant keeps their care-team level; the creator leads (room v12).
        let levels: BTreeMap<String, Role> = recipients.iter().map(|r| (r.to_string(), team[r.as_str()])).collect();
        let server = me.server_name().to_string();

        let mut request = CreateRoomRequest::new();
        request.name = Some(new.subject.trim().to_owned());
        request.preset = Some(RoomPreset::PrivateChat);
        request.visibility = Visibility::Private;
        request.power_level_content_override = Some(raw(&room_power_levels(&levels, None))?);
        request.initial_state = vec![
            raw(&json!({"type": "m.room.encryption", "state_key": "",
                        "content": {"algorithm": "m.megolm.v1.aes-sha2"}}))?,
            raw(&json!({"type": "m.space.parent", "state_key": new.space_id,
                        "content": {"via": [server], "canonical": true}}))?,
            raw(&json!({"type": CONVERSATION_EVENT, "state_key": "",
                        "content": {"version": 1, "kind": new.kind}}))?,
            raw(&json!({"type": STATUS_EVENT, "state_key": "", "content": {"status": ConversationStatus::Active}}))?,
            raw(&json!({"type": "m.room.history_visibility", "state_key": "",
                        "content": {"history_visibility": history_visibility(new.kind)}}))?,
        ];
        if new.sensitive {
            request.initial_state.push(raw(&json!({"type": "m.room.topic", "state_key": "",
                                                    "content": {"topic": SENSITIVE_TOPIC}}))?);
        }
        // The care team's retention holds for its conversations too.
        if let Some(retention) = crate::compliance::retention::inherited(&space).await {
            request.initial_state.push(raw(&retention)?);
        }
        let room = self.client.create_room(request).await?;
        let room_id = room.room_id().to_string();
        // The invite API carries no custom content: each invite is the member
        // event itself, with the client, as the care team's invite is (001 §4).
        let client = self.client_of(&new.space_id).await?;
        for user in &recipients {
            invite_with_context(&room, user, &client).await?;
        }
        space
            .send_state_event_raw("m.space.child", &room_id, json!({"via": [server], "suggested": false}))
            .await
            .map_err(permission_err)?;
        // The room key is shared with the devices this device knows of when it
        // encrypts; a recipient on another homeserver who just joined the care
        // team may not be known yet. Ask for their keys first (bounded).
        self.refresh_devices(&levels.keys().cloned().collect::<Vec<_>>()).await;
        // The first message and its files go through the persistent send
        // queue as one event: once queued it survives a crash, is sent exactly
        // once, and arrives whole or not at all.
        self.send_message(&room_id, &new.body, new.attachments.clone(), None, false).await?;
        self.audit("start_conversation", Some(&room_id)).await;
        Ok(room_id)
    }

    /// Fetches the current device keys of `users` from their homeservers and
    /// waits (at most 10 s) until each has at least one device known here.
    async fn refresh_devices(&self, users: &[String]) {
        let encryption = self.client.encryption();
        let wait = async {
            for user in users {
                let Ok(user) = matrix_sdk::ruma::OwnedUserId::try_from(user.as_str()) else { continue };
                loop {
                    let _ = encryption.request_user_identity(&user).await;
                    let known = encryption.get_user_devices(&user).await.map(|d| d.devices().count()).unwrap_or(0);
                    if known > 0 {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        };
        if tokio::time::timeout(std::time::Duration::from_secs(10), wait).await.is_err() {
            tracing::warn!("some recipients' devices are still unknown; they may not read the first message");
        }
    }

    /// The conversations of a client's care team, active ones first.
    pub async fn conversations(&self, space_id: &str) -> Result<Vec<ConversationSummary>, CoreError> {
        self.audit_read("open_care_team", space_id).await;
        let mut out = Vec::new();
        for room in self.conversation_rooms(space_id).await? {
            out.push(self.summary(&room).await?);
        }
        out.sort_by(|a, b| {
            (a.status == ConversationStatus::Archived)
                .cmp(&(b.status == ConversationStatus::Archived))
                .then(b.last_activity_ms.partial_cmp(&a.last_activity_ms).unwrap_or(std::cmp::Ordering::Equal))
        });
        Ok(out)
    }

    /// The conversations of a care team this user is in or invited to.
    pub(crate) async fn conversation_rooms(&self, space_id: &str) -> Result<Vec<Room>, CoreError> {
        let space = self.joined_room(space_id)?;
        let children = space.get_state_events(StateEventType::SpaceChild).await?;
        let mut rooms = Vec::new();
        for child in children {
            let json = crate::care_team::state_json(&child).map_err(|e| CoreError::Internal(e.to_string()))?;
            // A removed child has empty content.
            if json.get("content").and_then(|c| c.get("via")).is_none() {
                continue;
            }
            let Some(room_id) = json.get("state_key").and_then(Value::as_str) else { continue };
            let Ok(room_id) = matrix_sdk::ruma::OwnedRoomId::try_from(room_id) else { continue };
            let Some(room) = self.client.get_room(&room_id) else { continue };
            if matches!(room.state(), matrix_sdk::RoomState::Joined | matrix_sdk::RoomState::Invited) {
                rooms.push(room);
            }
        }
        Ok(rooms)
    }

    async fn summary(&self, room: &Room) -> Result<ConversationSummary, CoreError> {
        let kind = match state_field(self.state_content(room, CONVERSATION_EVENT).await, "kind").as_deref() {
            Some("client_inclusive") => ConversationKind::ClientInclusive,
            _ => ConversationKind::Professional,
        };
        let status = match state_field(self.state_content(room, STATUS_EVENT).await, "status").as_deref() {
            Some("archived") => ConversationStatus::Archived,
            _ => ConversationStatus::Active,
        };
        Ok(ConversationSummary {
            room_id: room.room_id().to_string(),
            subject: room.name().unwrap_or_default(),
            kind,
            status,
            participants: members_of(room).await?,
            joined: room.state() == matrix_sdk::RoomState::Joined,
            unread_count: u32::try_from(room.num_unread_messages()).unwrap_or(u32::MAX),
            unread_highlights: u32::try_from(room.num_unread_mentions()).unwrap_or(u32::MAX),
            last_activity_ms: room.latest_event_timestamp().map(|ts| u64::from(ts.0) as f64),
            sensitive: is_sensitive(room),
        })
    }

    /// Marks a conversation sensitive, or not, for everyone (senior and up:
    /// the topic's level).
    pub async fn set_conversation_sensitive(&self, room_id: &str, sensitive: bool) -> Result<(), CoreError> {
        let room = self.joined_room(room_id)?;
        let topic = if sensitive { SENSITIVE_TOPIC } else { "" };
        room.send_state_event_raw("m.room.topic", "", json!({ "topic": topic })).await.map_err(permission_err)?;
        self.audit_detail("set_sensitive", Some(room_id), Some(if sensitive { "on" } else { "off" })).await;
        Ok(())
    }

    /// Takes part in a conversation this user was invited to.
    pub async fn join_conversation(&self, room_id: &str) -> Result<(), CoreError> {
        let id =
            matrix_sdk::ruma::OwnedRoomId::try_from(room_id).map_err(|_| CoreError::UnknownRoom(room_id.to_owned()))?;
        let room = match self.client.get_room(&id) {
            Some(room) if room.state() == matrix_sdk::RoomState::Joined => return Ok(()),
            Some(room) => {
                self.join_and_settle(&room).await?;
                room
            }
            // Not synced here yet: the first sync brings the 20 most recent
            // rooms, the rest follow. The homeserver knows the invite.
            None => {
                let room = self.client.join_room_by_id(&id).await?;
                self.settle_join(&room).await?;
                room
            }
        };
        self.consume_invite_context(&room).await?;
        Ok(())
    }

    /// Adds a member of the client's care team to a running conversation,
    /// with their care-team role. The rules of the conversation's type hold:
    /// no client or related person in a professional-only conversation.
    /// (They read what is written from now on: Megolm keys of earlier
    /// messages are not shared with newcomers.)
    pub async fn add_to_conversation(&self, room_id: &str, user_id: &str) -> Result<(), CoreError> {
        let room = self.joined_room(room_id)?;
        let space_id = room
            .get_state_events(StateEventType::SpaceParent)
            .await?
            .into_iter()
            .find_map(|e| crate::care_team::state_json(&e).ok()?["state_key"].as_str().map(str::to_owned))
            .ok_or_else(|| CoreError::NotACareTeam(room_id.to_owned()))?;
        let space = self.joined_room(&space_id)?;
        let user = OwnedUserId::try_from(user_id).map_err(|_| CoreError::UnknownUser(user_id.to_owned()))?;
        let role = role_in_care_team(&space, &user).await?;
        if self.summary(&room).await?.kind == ConversationKind::Professional && !role.is_professional() {
            return Err(CoreError::NotInProfessionalConversation(user.to_string()));
        }
        set_user_level(&room, &user, role).await?;
        self.refresh_devices(&[user.to_string()]).await;
        // The SDK's invite shares the keys of the history the room's
        // visibility lets the newcomer read (MSC4268); the member event is
        // then restated with the client, so the invitee's system can link the
        // conversation even when it meets this invite before the care team's.
        room.invite_user_by_id(&user).await.map_err(permission_err)?;
        invite_with_context(&room, &user, &self.client_of(&space_id).await?).await?;
        self.audit_detail("add_to_conversation", Some(room_id), Some(&format!("{user} as {}", role.as_str()))).await;
        Ok(())
    }

    pub async fn conversation(&self, room_id: &str) -> Result<ConversationSummary, CoreError> {
        self.summary(&self.joined_room(room_id)?).await
    }

    /// Archives or reopens a conversation for everyone. Archived rooms are
    /// read-only through their power levels; reopening restores them.
    pub async fn set_conversation_status(&self, room_id: &str, status: ConversationStatus) -> Result<(), CoreError> {
        let room = self.joined_room(room_id)?;
        let me = self.own_user_id()?;
        let current = fetch_power_levels(&room).await?;
        let levels: BTreeMap<String, Role> = current
            .get("users")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(u, l)| (u.clone(), Role::from_level(l.as_i64().unwrap_or(0))))
            .collect();
        let pl = room.power_levels().await.map_err(|e| CoreError::Internal(e.to_string()))?;
        let my_level = crate::care_team::role_of(pl.for_user(&me)).level();
        let archived_by = (status == ConversationStatus::Archived).then_some(my_level);
        // Levels first: if the homeserver refuses them, no status claims an
        // archive the room does not enforce.
        let content = room_power_levels(&levels, archived_by);
        room.send_state_event_raw("m.room.power_levels", "", content).await.map_err(permission_err)?;
        room.send_state_event_raw(STATUS_EVENT, "", json!({"status": status})).await.map_err(permission_err)?;
        let action = match status {
            ConversationStatus::Archived => "archive_conversation",
            ConversationStatus::Active => "reopen_conversation",
        };
        self.audit(action, Some(room_id)).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team() -> BTreeMap<String, Role> {
        BTreeMap::from([
            ("@lead:a".to_owned(), Role::Lead),
            ("@gp:b".to_owned(), Role::Practitioner),
            ("@mz:a".to_owned(), Role::RelatedPerson),
            ("@client:a".to_owned(), Role::Client),
        ])
    }

    fn new(subject: &str, recipients: &[&str], kind: ConversationKind) -> NewConversation {
        NewConversation {
            space_id: "!s:a".into(),
            subject: subject.into(),
            body: "Graag overleg".into(),
            recipients: recipients.iter().map(|r| r.to_string()).collect(),
            kind,
            attachments: vec![],
            sensitive: false,
        }
    }

    #[test]
    fn a_subject_must_be_present_and_at_most_fifty_characters() {
        let t = team();
        let ok = "é".repeat(50); // characters, not bytes
        assert!(validate(&new(&ok, &["@gp:b"], ConversationKind::Professional), &t, "@lead:a").is_ok());
        let long = "x".repeat(51);
        assert!(matches!(
            validate(&new(&long, &["@gp:b"], ConversationKind::Professional), &t, "@lead:a"),
            Err(CoreError::SubjectTooLong { length: 51 })
        ));
        assert!(matches!(
            validate(&new("  ", &["@gp:b"], ConversationKind::Professional), &t, "@lead:a"),
            Err(CoreError::SubjectMissing)
        ));
    }

    #[test]
    fn recipients_come_from_the_care_team_and_respect_the_conversation_type() {
        let t = team();
        assert!(matches!(
            validate(&new("Medicatie", &[], ConversationKind::Professional), &t, "@lead:a"),
            Err(CoreError::RecipientsMissing)
        ));
        assert!(matches!(
            validate(&new("Medicatie", &["@lead:a"], ConversationKind::Professional), &t, "@lead:a"),
            Err(CoreError::RecipientsMissing)
        ));
        assert!(matches!(
            validate(&new("Medicatie", &["@stranger:c"], ConversationKind::Professional), &t, "@lead:a"),
            Err(CoreError::RecipientNotInCareTeam(u)) if u == "@stranger:c"
        ));
        assert!(matches!(
            validate(&new("Medicatie", &["@gp:b", "@mz:a"], ConversationKind::Professional), &t, "@lead:a"),
            Err(CoreError::NotInProfessionalConversation(u)) if u == "@mz:a"
        ));
        assert!(
            validate(
                &new("Zorgplan", &["@gp:b", "@mz:a", "@client:a"], ConversationKind::ClientInclusive),
                &t,
                "@lead:a"
            )
            .is_ok()
        );
    }

    #[test]
    fn a_body_is_required_and_at_most_five_attachments() {
        let t = team();
        let mut n = new("Wond", &["@gp:b"], ConversationKind::Professional);
        n.body = "\n ".into();
        assert!(matches!(validate(&n, &t, "@lead:a"), Err(CoreError::BodyMissing)));
        n.body = "Foto's van de wond".into();
        n.attachments = (0..6)
            .map(|i| NewAttachment { filename: format!("{i}.jpg"), mime: None, data: vec![0xff, 0xd8] })
            .collect();
        assert!(matches!(validate(&n, &t, "@lead:a"), Err(CoreError::TooManyAttachments { count: 6 })));
        n.attachments.pop();
        assert!(validate(&n, &t, "@lead:a").is_ok());
    }
}
