//! Care teams, their invites, a team's conversations and its members as
//! streams: a `Reset`, then diffs, as rooms and timelines already are.
//!
//! Each list is what the request of the same name answers (`care_teams`,
//! `conversations`, …), read again after every sync that changed a room and
//! sent as the difference from the last one. So a join, leave, invite, role
//! change, archive or new message shows within one sync, and an idle list
//! costs nothing.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

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

/// Streams `read` as a `Reset`, then its differences after each room update.
fn watch_list<T>(
    session: Arc<Session>,
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
        loop {
            match tokio::time::timeout(QUIET_REFRESH, updates.recv()).await {
                Ok(Ok(_) | Err(RecvError::Lagged(_))) | Err(_) => {}
                Ok(Err(RecvError::Closed)) => return,
            }
            tokio::time::sleep(SETTLE).await;
            while updates.try_recv().is_ok() {}
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
    watch_list(session, read, |t| &t.space_id, sink)
}

/// The care-team invites waiting for this user, as `Session::care_team_invites`.
pub fn watch_care_team_invites(session: Arc<Session>, sink: Sink<Vec<ListDiff<CareTeamInvite>>>) -> Subscription {
    let read: Read<CareTeamInvite> = Box::new(|s| Box::pin(async move { s.care_team_invites().await }));
    watch_list(session, read, |i| &i.space_id, sink)
}

/// One care team's conversations, as `Session::conversations`.
pub fn watch_conversations(
    session: Arc<Session>,
    space_id: String,
    sink: Sink<Vec<ListDiff<ConversationSummary>>>,
) -> Subscription {
    let read: Read<ConversationSummary> = Box::new(move |s| {
        let space_id = space_id.clone();
        Box::pin(async move { s.conversations(&space_id).await })
    });
    watch_list(session, read, |c| &c.room_id, sink)
}

/// One care team's members with their roles, as `Session::care_team_members`.
pub fn watch_care_team_members(
    session: Arc<Session>,
    space_id: String,
    sink: Sink<Vec<ListDiff<Member>>>,
) -> Subscription {
    let read: Read<Member> = Box::new(move |s| {
        let space_id = space_id.clone();
        Box::pin(async move { s.care_team_members(&space_id).await })
    });
    watch_list(session, read, |m| &m.user_id, sink)
}
