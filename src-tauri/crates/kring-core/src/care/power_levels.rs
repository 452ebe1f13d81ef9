//! Roles in a care team and the Matrix power levels they map to (001 §4).
//!
//! Which PractitionerRole code gets which role is configuration: organisations
//! differ, so it is loaded from JSON rather than written in code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A care-team role, ordered by authority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Client,
    RelatedPerson,
    Practitioner,
    Senior,
    Lead,
}

impl Role {
    /// The stable name (as serialized), for logs and the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::RelatedPerson => "related_person",
            Self::Practitioner => "practitioner",
            Self::Senior => "senior",
            Self::Lead => "lead",
        }
    }

    pub fn level(self) -> i64 {
        match self {
            Self::Lead => 100,
            Self::Senior => 75,
            Self::Practitioner => 50,
            Self::RelatedPerson => 25,
            Self::Client => 10,
        }
    }

    /// The role a power level stands for (levels between roles round down).
    pub fn from_level(level: i64) -> Self {
        match level {
            l if l >= 100 => Self::Lead,
            l if l >= 75 => Self::Senior,
            l if l >= 50 => Self::Practitioner,
            l if l >= 25 => Self::RelatedPerson,
            _ => Self::Client,
        }
    }

    /// Clients and related persons: absent from professional-only conversations.
    pub fn is_professional(self) -> bool {
        self >= Self::Practitioner
    }
}

/// Role codes (e.g. UZI role codes, SNOMED) to care-team roles.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RolePolicy {
    /// Role for a practitioner whose code is not listed.
    #[serde(default = "default_practitioner_role")]
    pub default_practitioner: Role,
    #[serde(default)]
    pub role_codes: BTreeMap<String, Role>,
}

fn default_practitioner_role() -> Role {
    Role::Practitioner
}

impl Default for RolePolicy {
    fn default() -> Self {
        Self { default_practitioner: Role::Practitioner, role_codes: BTreeMap::new() }
    }
}

impl RolePolicy {
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    pub fn role_for_code(&self, code: &str) -> Role {
        self.role_codes.get(code).copied().unwrap_or(self.default_practitioner)
    }
}

/// Event types Kring defines for conversations.
pub const CONVERSATION_EVENT: &str = "nl.kring.conversation";
pub const STATUS_EVENT: &str = "nl.kring.conversation.status";

/// The power levels of a care-team space or conversation: 001's example,
/// plus what it leaves out. `m.room.encrypted` is what E2EE messages are
/// sent as, so it must be as low as `m.room.message` or related persons could
/// not write in encrypted rooms.
///
/// `archived_by` is the level of whoever archived the room: writing then
/// needs that level. The homeserver lets nobody set a level above their own,
/// so a senior (75) who archives makes the room read-only below 75.
pub fn room_power_levels(members: &BTreeMap<String, Role>, archived_by: Option<i64>) -> Value {
    let archived = archived_by.is_some();
    let write = archived_by.map_or(Role::RelatedPerson.level(), |l| l.min(Role::Lead.level()));
    let users: BTreeMap<&String, i64> = members.iter().map(|(u, r)| (u, r.level())).collect();
    json!({
        "events": {
            "m.room.message": write,
            "m.room.encrypted": write,
            "m.reaction": write,
            "m.room.name": 75,
            "m.room.topic": 75,
            "m.room.member": 50,
            "m.space.child": 75,
            "m.space.parent": 100,
            "m.room.power_levels": 75,
            "m.room.encryption": 100,
            "m.room.history_visibility": 100,
            "m.room.join_rules": 100,
            "m.room.server_acl": 100,
            "m.room.tombstone": 100,
            (CONVERSATION_EVENT): 100,
            (STATUS_EVENT): 75,
            // Who may record a related person's relation: whoever may invite them.
            (crate::care_network::RELATION_EVENT): 50,
        },
        "events_default": if archived { write } else { 50 },
        "invite": 50,
        "kick": 75,
        "ban": 100,
        "redact": 50,
        "state_default": 75,
        "users_default": 25,
        "notifications": { "room": 50 },
        "users": users,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_specification() {
        assert_eq!(
            [Role::Lead, Role::Senior, Role::Practitioner, Role::RelatedPerson, Role::Client].map(Role::level),
            [100, 75, 50, 25, 10]
        );
        assert_eq!(Role::from_level(80), Role::Senior);
        assert_eq!(Role::from_level(0), Role::Client);
        assert!(Role::Practitioner.is_professional() && !Role::RelatedPerson.is_professional());
    }

    #[test]
    fn role_codes_come_from_configuration() {
        let policy = RolePolicy::from_json(r#"{"role_codes": {"01.015": "senior"}}"#).unwrap();
        assert_eq!(policy.role_for_code("01.015"), Role::Senior);
        assert_eq!(policy.role_for_code("30.000"), Role::Practitioner);
        assert!(RolePolicy::from_json(r#"{"role_codes": {"x": "overlord"}}"#).is_err());
    }

    #[test]
    fn archiving_makes_the_room_read_only_for_everyone_below_lead() {
        let members = BTreeMap::from([("@lead:x".to_owned(), Role::Lead), ("@mz:x".to_owned(), Role::RelatedPerson)]);
        let open = room_power_levels(&members, None);
        assert_eq!(open["events"]["m.room.encrypted"], 25);
        assert_eq!(open["users"]["@mz:x"], 25);
        assert_eq!(open["users"]["@lead:x"], 100);
        let archived = room_power_levels(&members, Some(Role::Lead.level()));
        assert_eq!(archived["events"]["m.room.message"], 100);
        assert_eq!(archived["events"]["m.room.encrypted"], 100);
        assert_eq!(archived["events_default"], 100);
        assert_eq!(archived["events"][STATUS_EVENT], 75, "reopening stays possible");
    }
}
