//! Care teams, their invites, a team's conversations and its members as
//! streams: a `Reset`, then diffs, as rooms and timelines already are.
//!
//! Each list is what the request of the same name answers (`care_teams`,
//! `conversations`, …), read again after every sync that changed a room it
//! spans and sent as the difference from the last one. So a join, leave,
//! invite, role change, archive or new message shows within one sync, and an
//! idle list costs nothing. A care team's lists span only its own room and
//! its conversations: a message in another team does not read them again.

use std::{collections::HashSet, future::Future, pin::Pin, sync::Arc, time::Duration};

use matrix_sdk::{
    ruma::{OwnedRoomId, events::StateEventType},
    sync::RoomUpdates,
};
use tokio::sync::broadcast::error::RecvError;
use tracing::warn;

use crate::{
    CareTeam, CareTeamInvite, ConversationSummary, CoreError, ListDiff, Member, Session, Subscription,
    diff::keyed_diffs, subscription::Sink,
};

/// Room updates that come close together are read as one: a sync
/// response often touches many rooms, and a burst of syncs follows a join.
const SETTLE: Duration = Duration::from_millis(250);
/// Read again after this long without a room update: what changes with no
/// sync of its own (a client link stored on this device) still shows.
const QUIET_REFRESH: Duration = Duration::from_secs(30);

type Read<T> = Box<dyn Fn(Arc<Session>) -> Pin<Box<dyn Future<Output = Result<Vec<T>, CoreError>> + Send>> + Send>;

/// The rooms whose updates a list is read again for.
#[derive(Clone)]
enum Scope {
    /// Every room: the list spans them all (care teams, invites).
    All,
    /// A care team's own room only (its members and their roles).
    Team(OwnedRoomId),
    /// A care team's room and every room its `m.space.child` names, joined
    /// or not (a conversation invite arrives as a room of its own).
    TeamAndConversations(OwnedRoomId),
}

impl Scope {
    /// The room ids the scope spans now; `None` for every room.
    async fn rooms(&self, session: &Session) -> Option<HashSet<OwnedRoomId>> {
        let (space_id, children) = match self {
            Scope::All => return None,
            Scope::Team(id) => (id, false),
            Scope::TeamAndConversations(id) => (id, true),
        };
        let mut rooms = HashSet::from([space_id.clone()]);
        if children && let Some(space) = session.client.get_room(space_id) {
            // New conversations are added with a state event in the team's
            // own room, which reads this again.
            for child in space.get_state_events(StateEventType::SpaceChild).await.unwrap_or_default() {
                let key =
                    crate::care_team::state_json(&child).ok().and_then(|j| j["state_key"].as_str().map(str::to_owned));
                if let Some(id) = key.and_then(|k| OwnedRoomId::try_from(k).ok()) {
                    rooms.insert(id);
                }
            }
        }
        Some(rooms)
    }
}

/// Whether a sync's room updates touch any of `rooms` (`None`: every room).
fn touches(updates: &RoomUpdates, rooms: Option<&HashSet<OwnedRoomId>>) -> bool {
    rooms.is_none_or(|rooms| updates.iter_all_room_ids().any(|id| rooms.contains(id)))
}

/// Streams `read` as a `Reset`, then its differences after each update of a
/// room in `scope`.
fn watch_list<T>(
    session: Arc<Session>,
    scope: Scope,
    read: Read<T>,
    key: fn(&T) -> &str,
    mut sink: Sink<Vec<ListDiff<T>>>,
) -> Subscription
where
    T: Clone + PartialEq + Send + 'static,
{
    let mut updates = session.client.subscribe_to_all_room_updates();
    Subscription::new(tokio::spawn(async move {
        let mut current = match read(session.clone()).await {
            Ok(list) => list,
            Err(e) => {
                warn!(code = ?e.code(), "a care list could not be read; it starts empty");
                Vec::new()
            }
        };
        if !sink(vec![ListDiff::Reset { values: current.clone() }]) {
            return;
        }
        let mut rooms = scope.rooms(&session).await;
        loop {
            match tokio::time::timeout(QUIET_REFRESH, updates.recv()).await {
                Ok(Ok(update)) if !touches(&update, rooms.as_ref()) => continue,
                // Missed updates, or a quiet while: read again to be sure.
                Ok(Ok(_) | Err(RecvError::Lagged(_))) | Err(_) => {}
                Ok(Err(RecvError::Closed)) => return,
            }
            tokio::time::sleep(SETTLE).await;
            while updates.try_recv().is_ok() {}
            rooms = scope.rooms(&session).await;
            let next = match read(session.clone()).await {
                Ok(list) => list,
                Err(e) => {
                    // Shown as it was; the next update reads again.
                    warn!(code = ?e.code(), "a care list could not be read again");
                    continue;
                }
            };
            let diffs = keyed_diffs(&current, &next, key);
            if diffs.is_empty() {
                continue;
            }
            // The list the UI holds after these diffs (newcomers at the
            // end, not `next`'s order): the next diffs' indexes are into it.
            for d in diffs.clone() {
                d.apply(&mut current);
            }
            if !sink(diffs) {
                return;
            }
        }
    }))
}

/// The care teams on this device, as `Session::care_teams`.
pub fn watch_care_teams(session: Arc<Session>, sink: Sink<Vec<ListDiff<CareTeam>>>) -> Subscription {
    let read: Read<CareTeam> = Box::new(|s| Box::pin(async move { s.care_teams().await }));
    watch_list(session, Scope::All, read, |t| &t.space_id, sink)
}

/// The care-team invites waiting for this user, as `Session::care_team_invites`.
pub fn watch_care_team_invites(session: Arc<Session>, sink: Sink<Vec<ListDiff<CareTeamInvite>>>) -> Subscription {
    let read: Read<CareTeamInvite> = Box::new(|s| Box::pin(async move { s.care_team_invites().await }));
    watch_list(session, Scope::All, read, |i| &i.space_id, sink)
}

/// One care team's conversations, as `Session::conversations`.
pub fn watch_conversations(
    session: Arc<Session>,
    space_id: String,
    sink: Sink<Vec<ListDiff<ConversationSummary>>>,
) -> Subscription {
    let scope = match OwnedRoomId::try_from(space_id.as_str()) {
        Ok(id) => Scope::TeamAndConversations(id),
        Err(_) => Scope::All, // the read reports the bad id
    };
    let read: Read<ConversationSummary> = Box::new(move |s| {
        let space_id = space_id.clone();
        Box::pin(async move { s.conversations(&space_id).await })
    });
    watch_list(session, scope, read, |c| &c.room_id, sink)
}

/// One care team's members with their roles, as `Session::care_team_members`.
pub fn watch_care_team_members(
    session: Arc<Session>,
    space_id: String,
    sink: Sink<Vec<ListDiff<Member>>>,
) -> Subscription {
    let scope = match OwnedRoomId::try_from(space_id.as_str()) {
        Ok(id) => Scope::Team(id),
        Err(_) => Scope::All,
    };
    let read: Read<Member> = Box::new(move |s| {
        let space_id = space_id.clone();
        Box::pin(async move { s.care_team_members(&space_id).await })
    });
    watch_list(session, scope, read, |m| &m.user_id, sink)
}

#[cfg(test)]
mod tests {
    use matrix_sdk::sync::{InvitedRoomUpdate, JoinedRoomUpdate};

    use super::*;

    fn id(s: &str) -> OwnedRoomId {
        OwnedRoomId::try_from(s).unwrap()
    }

    #[test]
    fn a_care_teams_list_reads_again_only_for_its_own_rooms() {
        let team = HashSet::from([id("!team:a"), id("!conversation:a")]);
        let mut elsewhere = RoomUpdates::default();
        elsewhere.joined.insert(id("!other-team:a"), JoinedRoomUpdate::default());
        assert!(!touches(&elsewhere, Some(&team)), "a message in another team");
        assert!(touches(&elsewhere, None), "the list of all care teams");

        let mut in_a_conversation = elsewhere.clone();
        in_a_conversation.joined.insert(id("!conversation:a"), JoinedRoomUpdate::default());
        assert!(touches(&in_a_conversation, Some(&team)));

        let mut invited = RoomUpdates::default();
        invited.invited.insert(id("!conversation:a"), InvitedRoomUpdate::default());
        assert!(touches(&invited, Some(&team)), "an invite to one of its conversations");
        assert!(!touches(&RoomUpdates::default(), Some(&team)));
    }
}
