//! Kring carries a patched SQLite state store (`src-tauri/patched/matrix-sdk-sqlite`)
//! that keeps each room's offline send queue in memory instead of reading and
//! decrypting it again before every send. These tests hold the patched store to
//! the SDK's own state-store contract, and to what a second, uncached reader of
//! the same database file sees after every kind of write.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};

use matrix_sdk::SqliteStateStore;
use matrix_sdk::ruma::events::room::message::RoomMessageEventContent;
use matrix_sdk::ruma::{MilliSecondsSinceUnixEpoch, OwnedTransactionId, RoomId, TransactionId, room_id};
use matrix_sdk_base::store::{QueueWedgeError, QueuedRequest, QueuedRequestKind, SerializableEventContent};
use matrix_sdk_base::{StateStore, StoreError, statestore_integration_tests};

// Kring opens its stores with a passphrase, so the contract runs encrypted.
const PASSPHRASE: &str = "kring-test-passphrase";

// One directory for the contract's stores, a fresh database in it for each test.
static CONTRACT_DIR: LazyLock<tempfile::TempDir> =
    LazyLock::new(|| tempfile::tempdir().expect("a temporary directory"));
static NEXT_STORE: AtomicU32 = AtomicU32::new(0);

async fn get_store() -> Result<impl StateStore, StoreError> {
    let path = CONTRACT_DIR.path().join(NEXT_STORE.fetch_add(1, Ordering::SeqCst).to_string());
    Ok(SqliteStateStore::open(path, Some(PASSPHRASE)).await.expect("the store opens"))
}

statestore_integration_tests!();

fn message(body: &str) -> QueuedRequestKind {
    let content = RoomMessageEventContent::text_plain(body).into();
    SerializableEventContent::new(&content).expect("a serialisable message").into()
}

/// What a reader sees of one queued request: order, id, priority, refusal and content.
fn seen(queue: &[QueuedRequest]) -> Vec<(String, usize, Option<String>, String)> {
    queue
        .iter()
        .map(|q| {
            (
                q.transaction_id.to_string(),
                q.priority,
                q.error.as_ref().map(|e| format!("{e:?}")),
                serde_json::to_string(&q.kind).expect("serialisable"),
            )
        })
        .collect()
}

async fn assert_same_as_disk(path: &std::path::Path, cached: &SqliteStateStore, room: &RoomId, step: &str) {
    let fresh = SqliteStateStore::open(path, Some(PASSPHRASE)).await.expect("a second reader opens");
    let on_disk = fresh.load_send_queue_requests(room).await.expect("the database reads");
    let in_memory = cached.load_send_queue_requests(room).await.expect("the cache reads");
    assert_eq!(seen(&in_memory), seen(&on_disk), "after {step}");
}

#[tokio::test]
async fn the_cached_send_queue_agrees_with_the_database_after_every_write() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStateStore::open(dir.path(), Some(PASSPHRASE)).await.expect("the store opens");
    let room = room_id!("!ward:localhost");
    let other = room_id!("!elsewhere:localhost");

    // The first load fills the cache; everything after is served from it.
    assert!(store.load_send_queue_requests(room).await.expect("empty").is_empty());

    let save = |txn: OwnedTransactionId, body: &str, priority: usize| {
        let store = store.clone();
        let kind = message(body);
        async move {
            store
                .save_send_queue_request(room, txn, MilliSecondsSinceUnixEpoch::now(), kind, priority)
                .await
                .expect("saved");
        }
    };
    let txns: Vec<OwnedTransactionId> = (0..5).map(|_| TransactionId::new()).collect();
    save(txns[0].clone(), "eerste", 0).await;
    save(txns[1].clone(), "tweede", 0).await;
    // A higher priority goes before every low one, and after earlier high ones.
    save(txns[2].clone(), "spoed", 10).await;
    save(txns[3].clone(), "derde", 0).await;
    save(txns[4].clone(), "nog een spoed", 10).await;
    assert_same_as_disk(dir.path(), &store, room, "five saves of two priorities").await;
    let order: Vec<_> =
        store.load_send_queue_requests(room).await.unwrap().into_iter().map(|q| q.transaction_id).collect();
    assert_eq!(order, vec![txns[2].clone(), txns[4].clone(), txns[0].clone(), txns[1].clone(), txns[3].clone()]);

    let refused = QueueWedgeError::GenericApiError { msg: "[413 / M_TOO_LARGE] too large".into() };
    store.update_send_queue_request_status(room, &txns[1], Some(refused)).await.expect("wedged");
    assert_same_as_disk(dir.path(), &store, room, "a refusal").await;

    // An edit replaces the content and clears the refusal.
    assert!(store.update_send_queue_request(room, &txns[1], message("tweede, verbeterd")).await.unwrap());
    assert_same_as_disk(dir.path(), &store, room, "an edit").await;
    assert!(!store.update_send_queue_request(room, &TransactionId::new(), message("nergens")).await.unwrap());

    store.update_send_queue_request_status(room, &txns[3], Some(QueueWedgeError::MissingMediaContent)).await.unwrap();
    store.update_send_queue_request_status(room, &txns[3], None).await.unwrap();
    assert_same_as_disk(dir.path(), &store, room, "a refusal lifted").await;

    assert!(store.remove_send_queue_request(room, &txns[2]).await.unwrap());
    assert!(!store.remove_send_queue_request(room, &txns[2]).await.unwrap());
    assert_same_as_disk(dir.path(), &store, room, "a send").await;

    // Another room's writes leave this room's queue alone, and the reverse.
    store
        .save_send_queue_request(other, TransactionId::new(), MilliSecondsSinceUnixEpoch::now(), message("elders"), 0)
        .await
        .unwrap();
    assert_same_as_disk(dir.path(), &store, room, "a save in another room").await;
    assert_same_as_disk(dir.path(), &store, other, "a save in a room not read before").await;
    assert_eq!(store.load_send_queue_requests(room).await.unwrap().len(), 4);

    store.remove_room(room).await.expect("room removed");
    assert_same_as_disk(dir.path(), &store, room, "the room's removal").await;
    assert!(store.load_send_queue_requests(room).await.unwrap().is_empty());
    assert_eq!(store.load_send_queue_requests(other).await.unwrap().len(), 1);

    // While the connections are closed another process may write: the cache goes.
    let writer = SqliteStateStore::open(dir.path(), Some(PASSPHRASE)).await.unwrap();
    store.close().await.unwrap();
    writer
        .save_send_queue_request(
            other,
            TransactionId::new(),
            MilliSecondsSinceUnixEpoch::now(),
            message("van buiten"),
            0,
        )
        .await
        .unwrap();
    store.reopen().await.unwrap();
    assert_eq!(store.load_send_queue_requests(other).await.unwrap().len(), 2);
}
