//! Urgent messages (001 UC7): how the marking travels and how the homeserver
//! learns to treat it as highlighted.
//!
//! Wire format (also in the README): an urgent `m.room.message` carries
//! - `"nl.kring.urgent": true` in its content, what clients read, and
//! - `"m.relates_to": {"nl.kring.urgent": true, …}`: Megolm leaves
//!   `m.relates_to` in cleartext on the `m.room.encrypted` event, so this
//!   copy is the only one the homeserver's push rules can see. It reveals
//!   that a message is urgent, never what it says.
//!
//! Kring installs one override push rule per account, [`RULE_ID`], that
//! notifies with a sound and a highlight for that cleartext marker. The
//! homeserver applies it to pushes (priority high); the SDK applies the same
//! rule after decryption for desktop notifications.

use matrix_sdk::{
    Client,
    ruma::{
        push::{
            Action, EventPropertyIsConditionData, HighlightTweakValue, PushCondition, ScalarJsonValue, SoundTweakValue,
            Tweak,
        },
        serde::Raw,
    },
};
use serde_json::Value;

/// The content field that marks a message urgent.
pub const FIELD: &str = "nl.kring.urgent";
/// The account's push rule for urgent messages.
pub const RULE_ID: &str = "nl.kring.urgent";
/// The push-rule key of the cleartext marker (dots in field names escaped).
pub const RULE_KEY: &str = r"content.m\.relates_to.nl\.kring\.urgent";

/// Marks a message's JSON content urgent, in both places.
pub(crate) fn mark(content: &mut Value) {
    let Some(object) = content.as_object_mut() else { return };
    object.insert(FIELD.to_owned(), Value::Bool(true));
    let relates_to = object.entry("m.relates_to").or_insert_with(|| Value::Object(Default::default()));
    if let Some(relates_to) = relates_to.as_object_mut() {
        relates_to.insert(FIELD.to_owned(), Value::Bool(true));
    }
}

/// Whether a message's content is marked urgent (either copy counts: the
/// cleartext one is what other clients keep when they re-serialise).
pub fn is_urgent(content: &Value) -> bool {
    content.get(FIELD).and_then(Value::as_bool) == Some(true)
        || content.get("m.relates_to").and_then(|r| r.get(FIELD)).and_then(Value::as_bool) == Some(true)
}

/// Whether a raw event (sync or timeline JSON) is an urgent message.
pub fn is_urgent_event<T>(raw: &Raw<T>) -> bool {
    raw.get_field::<Value>("content").ok().flatten().is_some_and(|c| is_urgent(&c))
}

fn rule_actions() -> Vec<Action> {
    vec![
        Action::Notify,
        Action::SetTweak(Tweak::Sound(SoundTweakValue::Default)),
        Action::SetTweak(Tweak::Highlight(HighlightTweakValue::Yes)),
    ]
}

fn rule_conditions() -> Vec<PushCondition> {
    vec![PushCondition::EventPropertyIs(EventPropertyIsConditionData::new(
        RULE_KEY.to_owned(),
        ScalarJsonValue::Bool(true),
    ))]
}

/// Installs the urgent push rule as the account's first own override rule.
/// A conversation muted later (here or in another client) gets a newer,
/// higher rule; urgent must stay above it, so it is put back on top.
pub(crate) async fn ensure_push_rule(client: &Client) -> Result<(), crate::CoreError> {
    let rules = client.account().push_rules().await.map_err(crate::CoreError::from)?;
    let first_own = rules.override_.iter().find(|r| !r.default);
    if first_own.is_some_and(|r| r.rule_id == RULE_ID && r.enabled) {
        return Ok(());
    }
    put_rule_on_top(client).await
}

/// Sets the rule without `before`/`after`: Synapse then gives it the
/// highest priority of its kind, also when it exists already.
pub(crate) async fn put_rule_on_top(client: &Client) -> Result<(), crate::CoreError> {
    use matrix_sdk::ruma::{
        api::client::push::set_pushrule,
        push::{NewConditionalPushRule, NewPushRule},
    };
    let rule = NewConditionalPushRule::new(RULE_ID.to_owned(), rule_conditions(), rule_actions());
    client
        .send(set_pushrule::v3::Request::new(NewPushRule::Override(rule)))
        .await
        .map_err(|e| crate::CoreError::Internal(format!("urgent push rule: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use matrix_sdk::ruma::{
        events::AnySyncTimelineEvent,
        owned_room_id, owned_user_id,
        push::{NewConditionalPushRule, NewPushRule, PushConditionRoomCtx, Ruleset},
        uint,
    };
    use serde_json::json;

    #[test]
    fn marking_keeps_a_reply_and_adds_the_cleartext_copy() {
        let mut content = json!({"msgtype": "m.text", "body": "bel mij",
            "m.relates_to": {"m.in_reply_to": {"event_id": "$a"}}});
        mark(&mut content);
        assert_eq!(content["nl.kring.urgent"], json!(true));
        assert_eq!(content["m.relates_to"]["nl.kring.urgent"], json!(true));
        assert_eq!(content["m.relates_to"]["m.in_reply_to"]["event_id"], json!("$a"));
        assert!(is_urgent(&content));
        assert!(!is_urgent(&json!({"msgtype": "m.text", "body": "x"})));
    }

    fn ctx() -> PushConditionRoomCtx {
        PushConditionRoomCtx::new(owned_room_id!("!r:a"), uint!(3), owned_user_id!("@gp:b"), "GP".into())
    }

    /// The rule as the homeserver evaluates it: on the *encrypted* event,
    /// where only the cleartext copy is visible.
    #[tokio::test]
    async fn the_rule_highlights_an_encrypted_urgent_message_and_nothing_else() {
        let mut rules = Ruleset::server_default(&owned_user_id!("@gp:b"));
        let rule = NewConditionalPushRule::new(RULE_ID.into(), rule_conditions(), rule_actions());
        rules.insert(NewPushRule::Override(rule), None, None).unwrap();
        let encrypted = |relates: Value| -> Raw<AnySyncTimelineEvent> {
            Raw::new(&json!({"type": "m.room.encrypted", "event_id": "$e", "sender": "@lead:a",
                "origin_server_ts": 1, "content": {"algorithm": "m.megolm.v1.aes-sha2",
                "ciphertext": "x", "session_id": "s", "m.relates_to": relates}}))
            .unwrap()
            .cast_unchecked()
        };
        let ctx = ctx();
        let urgent = rules.get_actions(&encrypted(json!({"nl.kring.urgent": true})), &ctx).await;
        assert!(urgent.iter().any(|a| a.is_highlight()), "{urgent:?}");
        let normal = rules.get_actions(&encrypted(json!({})), &ctx).await;
        assert!(!normal.iter().any(|a| a.is_highlight()), "{normal:?}");
    }
}
