//! The vault: a private encrypted room of the account, with nobody else in
//! it, that keeps the client links (space ↔ client name and pseudo-BSN) as
//! encrypted events. Its room keys go to the key backup like every other
//! room's, so each device that recovered or was verified (and so holds the
//! backup key) reads it without typing anything; the homeserver sees only
//! `m.room.encrypted`. Global account data names the room, by id only.
//!
//! Secret storage was the other candidate, but it opens only with the
//! recovery key: a device verified by another device receives just the
//! gossiped secrets (cross-signing and backup keys), never custom ones.
//! The local sealed store stays the fast path; the vault is the way back.

use kring_store::ClientLink;
use matrix_sdk::{
    Room,
    room::MessagesOptions,
    ruma::{
        OwnedRoomId,
        api::client::room::{
            Visibility,
            create_room::v3::{Request as CreateRoomRequest, RoomPreset},
        },
        events::GlobalAccountDataEventType,
    },
};
use serde_json::{Value, json};
use tracing::{debug, warn};

use crate::{
    CoreError, Session,
    care_team::{raw, store_err},
};

/// The vault's room type, and the account-data entry that names it.
pub(crate) const VAULT_TYPE: &str = "nl.kring.vault";
/// One link per event; a later event for the same space replaces an earlier one.
const LINK_EVENT: &str = "nl.kring.client_link";

/// Whether a room is a vault: lists of rooms and conversations leave it out.
pub(crate) fn is_vault(room: &Room) -> bool {
    room.room_type().is_some_and(|t| t.to_string() == VAULT_TYPE)
}

impl Session {
    /// The vault's room id, from account data (the server's copy: a new
    /// device may not have synced it yet).
    async fn vault_id(&self) -> Result<Option<OwnedRoomId>, CoreError> {
        let kind = GlobalAccountDataEventType::from(VAULT_TYPE);
        let raw = match self.client.account().account_data_raw(kind.clone()).await? {
            Some(raw) => Some(raw),
            None => self.client.account().fetch_account_data(kind).await?,
        };
        let id = raw
            .and_then(|r| r.deserialize_as_unchecked::<Value>().ok())
            .and_then(|v| v.get("room_id")?.as_str().map(str::to_owned))
            .and_then(|id| OwnedRoomId::try_from(id).ok());
        Ok(id)
    }

    /// The vault as a joined room of this device. Joining a room one is
    /// already in is a no-op for the server, and gives the room at once.
    async fn vault(&self) -> Result<Option<Room>, CoreError> {
        let Some(id) = self.vault_id().await? else { return Ok(None) };
        if let Some(room) = self.client.get_room(&id).filter(|r| r.state() == matrix_sdk::RoomState::Joined) {
            return Ok(Some(room));
        }
        Ok(Some(self.client.join_room_by_id(&id).await?))
    }

    /// The vault, made on first use with every link this device knows.
    pub(crate) async fn ensure_vault(&self) -> Result<Room, CoreError> {
        if let Some(room) = self.vault().await? {
            return Ok(room);
        }
        let mut request = CreateRoomRequest::new();
        request.preset = Some(RoomPreset::PrivateChat);
        request.visibility = Visibility::Private;
        request.creation_content = Some(raw(&json!({ "type": VAULT_TYPE }))?);
        request.initial_state = vec![
            raw(&json!({"type": "m.room.encryption", "state_key": "",
                        "content": {"algorithm": "m.megolm.v1.aes-sha2"}}))?,
            // Only the account's own devices ever read it.
            raw(&json!({"type": "m.room.history_visibility", "state_key": "",
                        "content": {"history_visibility": "joined"}}))?,
        ];
        let room = self.client.create_room(request).await?;
        let pointer = raw(&json!({ "room_id": room.room_id() }))?;
        self.client.account().set_account_data_raw(GlobalAccountDataEventType::from(VAULT_TYPE), pointer).await?;
        for link in self.store.client_links().await.map_err(store_err)? {
            send_link(&room, &link).await?;
        }
        Ok(room)
    }

    /// Keeps a new link in the vault, so the person's other devices know the
    /// client too. Failing that, the link stays on this device and the
    /// next start tries again.
    pub(crate) async fn remember_in_vault(&self, link: &ClientLink) {
        let result = async {
            match self.vault().await? {
                Some(room) => send_link(&room, link).await,
                // A new vault starts with every link of this device, this one included.
                None => self.ensure_vault().await.map(|_| ()),
            }
        }
        .await;
        if let Err(e) = result {
            warn!("care-team link not yet in the vault: {e}");
        }
    }

    /// Reads the vault and adds to this device every link it lacks. Returns
    /// how many it added. Room keys come from the backup first, so a device
    /// that has just recovered reads events sent before it existed.
    pub async fn restore_client_links(&self) -> Result<usize, CoreError> {
        let Some(room) = self.vault().await? else { return Ok(0) };
        // Right after a verification the backup key has just arrived and the
        // vault's room keys may still be on their way: read again while
        // some events stay undecryptable, for a few seconds.
        let mut found = Vec::new();
        for attempt in 0..10 {
            if let Err(e) = self.client.encryption().backups().download_room_keys_for_room(room.room_id()).await {
                debug!("vault keys not downloaded from the backup: {e}");
            }
            let (links, undecryptable) = read_vault(&room).await?;
            found = links;
            if undecryptable == 0 {
                break;
            }
            debug!(attempt, undecryptable, "vault events not decryptable yet");
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        let mut added = 0;
        for link in found {
            if self.store.client_for_space(&link.space_id).await.map_err(store_err)?.as_ref() != Some(&link) {
                self.store.link_client_space(&link).await.map_err(store_err)?;
                added += 1;
            }
        }
        Ok(added)
    }
}

/// Links that the person's other devices add while this one runs: read from
/// the vault's live events as they sync (decrypted by the SDK before the
/// handler sees them), so a new care team shows here without a restart.
pub(crate) fn follow_vault(client: &matrix_sdk::Client, store: kring_store::Store) {
    use matrix_sdk::ruma::{events::AnySyncTimelineEvent, serde::Raw};
    client.add_event_handler(move |event: Raw<AnySyncTimelineEvent>, room: Room| {
        let store = store.clone();
        async move {
            if !is_vault(&room) || event.get_field::<String>("type").ok().flatten().as_deref() != Some(LINK_EVENT) {
                return;
            }
            let Ok(Some(content)) = event.get_field::<Value>("content") else { return };
            let field = |k: &str| content.get(k).and_then(Value::as_str).map(str::to_owned);
            let (Some(space_id), Some(display_name), Some(pseudo_bsn)) =
                (field("space_id"), field("display_name"), field("pseudo_bsn"))
            else {
                return;
            };
            if let Err(e) = store.link_client_space(&ClientLink { space_id, display_name, pseudo_bsn }).await {
                warn!("care-team link from the vault not kept: {e}");
            }
        }
    });
}

/// Every link in the vault, newest first per space, and how many of its
/// events could not be decrypted.
async fn read_vault(room: &Room) -> Result<(Vec<ClientLink>, usize), CoreError> {
    let mut found: Vec<ClientLink> = Vec::new();
    let mut undecryptable = 0;
    let mut from: Option<String> = None;
    loop {
        let mut options = MessagesOptions::backward();
        options.from = from.take();
        let page = room.messages(options).await?;
        for event in &page.chunk {
            let kind = event.raw().get_field::<String>("type").ok().flatten();
            if kind.as_deref() == Some("m.room.encrypted") {
                undecryptable += 1;
            }
            if kind.as_deref() != Some(LINK_EVENT) {
                continue;
            }
            let Ok(Some(content)) = event.raw().get_field::<Value>("content") else { continue };
            let field = |k: &str| content.get(k).and_then(Value::as_str).map(str::to_owned);
            if let (Some(space_id), Some(display_name), Some(pseudo_bsn)) =
                (field("space_id"), field("display_name"), field("pseudo_bsn"))
                // Newest first: the first seen for a space wins.
                && !found.iter().any(|l| l.space_id == space_id)
            {
                found.push(ClientLink { space_id, display_name, pseudo_bsn });
            }
        }
        match page.end {
            Some(end) if !page.chunk.is_empty() => from = Some(end),
            _ => break,
        }
    }
    Ok((found, undecryptable))
}

async fn send_link(room: &Room, link: &ClientLink) -> Result<(), CoreError> {
    let content = json!({
        "space_id": link.space_id, "display_name": link.display_name, "pseudo_bsn": link.pseudo_bsn,
    });
    room.send_raw(LINK_EVENT, content).await?;
    Ok(())
}
