//! Attachments out of the core into the webview: inline images through a
//! custom URI scheme (no base64 over IPC), downloads into the user's folder.

use std::path::{Path, PathBuf};

use kring_core::{AttachmentContent, CoreError};
use tauri::{Manager, Runtime, UriSchemeContext, UriSchemeResponder, http};

use crate::state::AppState;

/// `kring-media://localhost/<room id>/<event id>/<index>` (percent-encoded;
/// `http://kring-media.localhost/…` on Windows and Android).
pub const SCHEME: &str = "kring-media";

pub fn serve<R: Runtime>(ctx: UriSchemeContext<'_, R>, request: http::Request<Vec<u8>>, responder: UriSchemeResponder) {
    let app = ctx.app_handle().clone();
    let path = request.uri().path().to_owned();
    tauri::async_runtime::spawn(async move {
        let response = match fetch(&app, &path).await {
            Ok(content) => http::Response::builder()
                .header(http::header::CONTENT_TYPE, content.mime.as_deref().unwrap_or("application/octet-stream"))
                // Decrypted patient data: the webview keeps no copy on disk.
                .header(http::header::CACHE_CONTROL, "no-store")
                .body(content.data),
            Err(e) => {
                tracing::warn!(code = ?e.code(), "attachment not served");
                http::Response::builder().status(http::StatusCode::NOT_FOUND).body(Vec::new())
            }
        };
        responder.respond(response.unwrap_or_else(|_| http::Response::new(Vec::new())));
    });
}

async fn fetch<R: Runtime>(app: &tauri::AppHandle<R>, path: &str) -> Result<AttachmentContent, CoreError> {
    let (room_id, event_id, index) =
        parse(path).ok_or_else(|| CoreError::AttachmentUnavailable("bad address".into()))?;
    let session = app.state::<AppState>().session().await?;
    session.attachment_content(&room_id, &event_id, index).await
}

fn parse(path: &str) -> Option<(String, String, u32)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8().ok().map(|s| s.into_owned());
    // The UI encodes each id, then Tauri's convertFileSrc encodes the whole
    // path once more: undo that first, then split, then decode each id.
    let path = decode(path)?;
    let mut parts = path.trim_start_matches('/').split('/');
    let room = decode(parts.next()?)?;
    let event = decode(parts.next()?)?;
    let index = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((room, event, index))
}

/// Writes an attachment into `dir` under its own name, never overwriting:
/// `uitslag.pdf`, then `uitslag (1).pdf`, …
pub async fn save(dir: &Path, content: &AttachmentContent) -> Result<PathBuf, CoreError> {
    let io = |e: std::io::Error| CoreError::Storage(e.to_string());
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    // A name from another user must not climb out of the folder.
    let name: String =
        content.filename.chars().map(|c| if matches!(c, '/' | '\\' | ':' | '\0') { '_' } else { c }).collect();
    let name = match name.trim_start_matches('.') {
        "" => "bijlage".to_owned(),
        n => n.to_owned(),
    };
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_owned(), format!(".{e}")),
        _ => (name.clone(), String::new()),
    };
    for n in 0u32.. {
        let candidate = dir.join(if n == 0 { name.clone() } else { format!("{stem} ({n}){ext}") });
        match tokio::fs::OpenOptions::new().write(true).create_new(true).open(&candidate).await {
            Ok(mut file) => {
                use tokio::io::AsyncWriteExt;
                file.write_all(&content.data).await.map_err(io)?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(e)),
        }
    }
    unreachable!("u32 names exhausted")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_room_event_index() {
        // encodeURIComponent per id, then convertFileSrc over the whole path.
        let ui = |room: &str, event: &str, i: u32| {
            let enc =
                |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
            format!("/{}", enc(&format!("{}/{}/{i}", enc(room), enc(event))))
        };
        assert_eq!(
            parse(&ui("!abc:localhost:8481", "$ev+x/y", 3)),
            Some(("!abc:localhost:8481".into(), "$ev+x/y".into(), 3))
        );
        assert_eq!(parse("/a/b"), None);
        assert_eq!(parse("/a/b/x"), None);
        assert_eq!(parse("/a/b/1/extra"), None);
    }

    #[tokio::test]
    async fn saving_never_overwrites_and_never_leaves_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let content = |name: &str| AttachmentContent { filename: name.into(), mime: None, data: b"x".to_vec() };
        let first = save(dir.path(), &content("uitslag.pdf")).await.unwrap();
        let second = save(dir.path(), &content("uitslag.pdf")).await.unwrap();
        assert_eq!(first.file_name().unwrap(), "uitslag.pdf");
        assert_eq!(second.file_name().unwrap(), "uitslag (1).pdf");
        let sneaky = save(dir.path(), &content("../../etc/passwd")).await.unwrap();
        assert_eq!(sneaky.parent().unwrap(), dir.path());
    }
}
