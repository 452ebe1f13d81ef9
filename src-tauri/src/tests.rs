//! Shell tests on Tauri's mock runtime: the IPC boundary as the UI sees it.

use std::sync::Arc;

use kring_core::KeyringSecretStore;
use serde_json::{Value, json};
use tauri::{
    ipc::{CallbackFn, InvokeBody},
    test::{INVOKE_KEY, get_ipc_response, mock_builder, mock_context, noop_assets},
    webview::InvokeRequest,
};

use crate::{AppState, BINDINGS_PATH, build_app, export_bindings};

fn invoke(cmd: &str, args: Value) -> Result<Value, Value> {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_path_buf();
    let state =
        AppState::new(format!("shell-test-{}", std::process::id()), Arc::new(KeyringSecretStore::new("nl.kring.test")))
            .with_data_dir(dir);
    let app = build_app(mock_builder(), state).build(mock_context(noop_assets())).expect("mock app");
    let webview = tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    get_ipc_response(
        &webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().unwrap())
}

#[test]
fn commands_without_a_session_fail_with_the_not_logged_in_code() {
    let err = invoke("send_text", json!({"roomId": "!r:x", "body": "hallo"})).unwrap_err();
    assert_eq!(err["code"], "not_logged_in", "{err}");
    assert!(err["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

#[test]
fn a_login_with_an_invalid_address_fails_with_its_code_not_a_panic() {
    let err = invoke("login", json!({"request": {"homeserver": "ftp://nowhere", "username": "u", "password": "p"}}))
        .unwrap_err();
    assert_eq!(err["code"], "invalid_homeserver", "{err}");
}

#[test]
fn unsubscribing_an_unknown_id_is_harmless() {
    assert_eq!(invoke("unsubscribe", json!({"id": "sub-999"})).unwrap(), Value::Null);
}

/// The committed TypeScript bindings must match the Rust types. Regenerate
/// with `KRING_UPDATE_BINDINGS=1 cargo test --workspace bindings`.
#[test]
fn bindings_are_up_to_date() {
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(BINDINGS_PATH);
    let fresh = tempfile::NamedTempFile::new().unwrap();
    export_bindings(fresh.path()).unwrap();
    let fresh = std::fs::read_to_string(fresh.path()).unwrap();
    if std::env::var_os("KRING_UPDATE_BINDINGS").is_some() {
        std::fs::write(&committed, &fresh).unwrap();
    }
    let current = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        current == fresh,
        "{} is stale: run KRING_UPDATE_BINDINGS=1 cargo test --workspace bindings",
        committed.display()
    );
}
