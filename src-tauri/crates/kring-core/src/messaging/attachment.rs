//! Messages with attachments (001 UC2/UC3): up to five files, encrypted like
//! the message, sent as one event so a reader never sees half of it.
//!
//! One to five files go out as one MSC4274 `m.gallery` message through the
//! SDK's send queue: every upload finishes before the single event is sent,
//! and the queue persists the lot, so a crash or lost network leaves either
//! nothing or everything at the other side. A client that does not know
//! `m.gallery` shows `body`, which names the files after the text.

use matrix_sdk::{
    attachment::{AttachmentInfo, BaseFileInfo, BaseImageInfo},
    media::{MediaFormat, MediaRequestParameters},
    ruma::{
        OwnedEventId, UInt,
        events::room::{
            MediaSource,
            message::{
                GalleryItemType, MessageType, RoomMessageEventContent, RoomMessageEventContentWithoutRelation,
                TextMessageEventContent,
            },
        },
    },
};
use matrix_sdk_ui::timeline::{AttachmentSource, GalleryConfig, GalleryItemInfo};
use serde::{Deserialize, Serialize};

use crate::{CoreError, Session};

/// At most this many files per message (001 UC2).
pub const MAX_ATTACHMENTS: usize = 5;

/// A file the user attached, read into memory on this device.
#[derive(Clone, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct NewAttachment {
    pub filename: String,
    /// As the picker reported it; guessed from the content when absent.
    #[serde(default)]
    pub mime: Option<String>,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for NewAttachment {
    // Contents are patient data: never in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAttachment").field("bytes", &self.data.len()).finish_non_exhaustive()
    }
}

impl NewAttachment {
    /// Reads a file from disk (CLI); the name is the file's own name.
    pub fn from_path(path: &std::path::Path) -> Result<Self, CoreError> {
        let data =
            std::fs::read(path).map_err(|e| CoreError::AttachmentUnreadable(format!("{}: {e}", path.display())))?;
        let filename = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "bijlage".into());
        Ok(Self { filename, mime: None, data })
    }

    fn mime(&self) -> mime::Mime {
        self.mime
            .as_deref()
            .and_then(|m| m.parse().ok())
            .or_else(|| infer::get(&self.data).and_then(|t| t.mime_type().parse().ok()))
            .or_else(|| by_extension(&self.filename))
            .unwrap_or(mime::APPLICATION_OCTET_STREAM)
    }
}

/// Content sniffing misses text formats; these are the ones care teams send.
fn by_extension(filename: &str) -> Option<mime::Mime> {
    let ext = filename.rsplit_once('.')?.1.to_ascii_lowercase();
    let m = match ext.as_str() {
        "txt" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "xml" => "application/xml",
        "html" | "htm" => "text/html",
        _ => return None,
    };
    m.parse().ok()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum AttachmentKind {
    Image,
    Video,
    Audio,
    File,
}

/// An attachment as a timeline item shows it.
#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// Position in its message, for [`Session::attachment_content`].
    pub index: u32,
    pub filename: String,
    pub mime: Option<String>,
    pub size: Option<f64>,
    pub kind: AttachmentKind,
    /// May this user redact it (UC3)? An attachment is part of one event, so
    /// this is the message's answer: redacting removes the whole message.
    pub allow_destroy: bool,
}

/// A downloaded, decrypted attachment.
pub struct AttachmentContent {
    pub filename: String,
    pub mime: Option<String>,
    pub data: Vec<u8>,
}

/// What `body` says after the text for clients that do not render
/// `m.gallery`; Kring recognises and hides it.
pub(crate) fn fallback_suffix<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    format!("\n\n📎 {}", names.join(", "))
}

/// The attachments of a received message, with where to fetch each.
pub(crate) fn attachments_of(msgtype: &MessageType) -> Vec<(Attachment, MediaSource)> {
    let item = |index: usize, filename: &str, mime: Option<&str>, size: Option<UInt>, kind, source: &MediaSource| {
        let attachment = Attachment {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            filename: filename.to_owned(),
            mime: mime.map(str::to_owned),
            size: size.map(|s| u64::from(s) as f64),
            kind,
            allow_destroy: false,
        };
        (attachment, source.clone())
    };
    let one = |index: usize, msgtype: Either<'_>| match msgtype {
        Either::Image(c) => {
            let info = c.info.as_deref();
            item(
                index,
                c.filename(),
                info.and_then(|i| i.mimetype.as_deref()),
                info.and_then(|i| i.size),
                AttachmentKind::Image,
                &c.source,
            )
        }
        Either::File(c) => {
            let info = c.info.as_deref();
            item(
                index,
                c.filename(),
                info.and_then(|i| i.mimetype.as_deref()),
                info.and_then(|i| i.size),
                AttachmentKind::File,
                &c.source,
            )
        }
        Either::Video(c) => {
            let info = c.info.as_deref();
            item(
                index,
                c.filename(),
                info.and_then(|i| i.mimetype.as_deref()),
                info.and_then(|i| i.size),
                AttachmentKind::Video,
                &c.source,
            )
        }
        Either::Audio(c) => {
            let info = c.info.as_deref();
            item(
                index,
                c.filename(),
                info.and_then(|i| i.mimetype.as_deref()),
                info.and_then(|i| i.size),
                AttachmentKind::Audio,
                &c.source,
            )
        }
    };
    match msgtype {
        MessageType::Image(c) => vec![one(0, Either::Image(c))],
        MessageType::File(c) => vec![one(0, Either::File(c))],
        MessageType::Video(c) => vec![one(0, Either::Video(c))],
        MessageType::Audio(c) => vec![one(0, Either::Audio(c))],
        MessageType::Gallery(g) => g
            .itemtypes
            .iter()
            .filter_map(|t| match t {
                GalleryItemType::Image(c) => Some(Either::Image(c)),
                GalleryItemType::File(c) => Some(Either::File(c)),
                GalleryItemType::Video(c) => Some(Either::Video(c)),
                GalleryItemType::Audio(c) => Some(Either::Audio(c)),
                _ => None,
            })
            .enumerate()
            .map(|(i, c)| one(i, c))
            .collect(),
        _ => Vec::new(),
    }
}

enum Either<'a> {
    Image(&'a matrix_sdk::ruma::events::room::message::ImageMessageEventContent),
    File(&'a matrix_sdk::ruma::events::room::message::FileMessageEventContent),
    Video(&'a matrix_sdk::ruma::events::room::message::VideoMessageEventContent),
    Audio(&'a matrix_sdk::ruma::events::room::message::AudioMessageEventContent),
}

/// The text a message shows: a gallery's body without Kring's fallback line;
/// a lone file's body is its caption, or nothing when it only names the file.
pub(crate) fn display_body(msgtype: &MessageType, attachments: &[Attachment]) -> String {
    match msgtype {
        MessageType::Gallery(g) => {
            let suffix = fallback_suffix(attachments.iter().map(|a| a.filename.as_str()));
            g.body.strip_suffix(&suffix).unwrap_or(&g.body).to_owned()
        }
        MessageType::Image(_) | MessageType::File(_) | MessageType::Video(_) | MessageType::Audio(_) => {
            let body = msgtype.body();
            if attachments.first().is_some_and(|a| a.filename == body) { String::new() } else { body.to_owned() }
        }
        other => other.body().to_owned(),
    }
}

/// Checks the attachments of a message before anything is sent.
pub fn validate(attachments: &[NewAttachment]) -> Result<(), CoreError> {
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(CoreError::TooManyAttachments { count: attachments.len() });
    }
    Ok(())
}

fn gallery(body: &str, attachments: Vec<NewAttachment>, in_reply_to: Option<OwnedEventId>) -> GalleryConfig {
    let text = format!("{body}{}", fallback_suffix(attachments.iter().map(|a| a.filename.as_str())));
    let mut config = GalleryConfig::new().caption(Some(TextMessageEventContent::plain(text))).in_reply_to(in_reply_to);
    for attachment in attachments {
        let mime = attachment.mime();
        let size = UInt::new(attachment.data.len() as u64);
        let info = if mime.type_() == mime::IMAGE {
            AttachmentInfo::Image(BaseImageInfo { size, ..Default::default() })
        } else {
            AttachmentInfo::File(BaseFileInfo { size })
        };
        config = config.add_item(GalleryItemInfo {
            source: AttachmentSource::Data { bytes: attachment.data, filename: attachment.filename },
            content_type: mime,
            attachment_info: info,
            caption: None,
            thumbnail: None,
        });
    }
    config
}

/// A plain-text message as raw content, optionally a reply and urgent.
pub(crate) fn text_content(
    body: &str,
    reply_to: Option<OwnedEventId>,
    urgent: bool,
) -> Result<matrix_sdk::ruma::serde::Raw<matrix_sdk::ruma::events::AnyMessageLikeEventContent>, CoreError> {
    let mut content = serde_json::json!({ "msgtype": "m.text", "body": body, "m.mentions": {} });
    if let Some(event_id) = reply_to {
        content["m.relates_to"] = serde_json::json!({ "m.in_reply_to": { "event_id": event_id } });
    }
    if urgent {
        crate::urgent::mark(&mut content);
    }
    serde_json::value::to_raw_value(&content)
        .map(matrix_sdk::ruma::serde::Raw::from_json)
        .map_err(|e| CoreError::Internal(e.to_string()))
}

/// A gallery's new caption: the text plus the file names for other clients.
pub(crate) fn caption_text(body: &str, msgtype: &MessageType) -> String {
    let names: Vec<String> = attachments_of(msgtype).into_iter().map(|(a, _)| a.filename).collect();
    format!("{body}{}", fallback_suffix(names.iter().map(String::as_str)))
}

impl Session {
    /// Queues a message with 0 to 5 attachments, optionally as a reply and
    /// urgent. Text alone is an `m.text`; with files, one `m.gallery` event.
    /// Either way it is persisted before this returns and sent by the SDK's
    /// send queue. The SDK builds a gallery's content itself, so an urgent
    /// message with files goes out as the urgent text, then the files.
    pub async fn send_message(
        &self,
        room_id: &str,
        body: &str,
        attachments: Vec<NewAttachment>,
        in_reply_to: Option<&str>,
        urgent: bool,
    ) -> Result<(), CoreError> {
        if body.trim().is_empty() && attachments.is_empty() {
            return Err(CoreError::BodyMissing);
        }
        validate(&attachments)?;
        let reply_to = in_reply_to
            .map(|e| OwnedEventId::try_from(e).map_err(|_| CoreError::Internal(format!("not an event id: {e}"))))
            .transpose()?;
        let timeline = self.timeline(room_id).await?;
        if let Some(event_id) = &reply_to {
            // The SDK reads the replied-to event; it must be here first.
            if loaded(&timeline, event_id).await.is_none() {
                return Err(CoreError::SendFailed(format!("the message answered ({event_id}) is not available")));
            }
        }
        let body = body.trim_end();
        if urgent {
            let text = if body.is_empty() {
                attachments.iter().map(|a| a.filename.as_str()).collect::<Vec<_>>().join(", ")
            } else {
                body.to_owned()
            };
            let room = self.joined_room(room_id)?;
            room.send_queue()
                .send_raw(text_content(&text, reply_to.clone(), true)?, "m.room.message".to_owned())
                .await
                .map_err(|e| CoreError::SendFailed(e.to_string()))?;
            // The handle does not tell its transaction id; the queue does.
            crate::send_queue::remember_urgent_echoes(&room, &self.urgent_unsent).await;
            if !attachments.is_empty() {
                timeline
                    .send_gallery(gallery("", attachments, None))
                    .await
                    .map_err(|e| CoreError::SendFailed(e.to_string()))?;
            }
            self.audit("send_urgent", Some(room_id)).await;
            return Ok(());
        }
        let sent = if attachments.is_empty() {
            let content = RoomMessageEventContent::text_plain(body);
            match reply_to {
                Some(event_id) => {
                    timeline.send_reply(RoomMessageEventContentWithoutRelation::from(content), event_id).await
                }
                None => timeline.send(content.into()).await.map(|_| ()),
            }
        } else {
            timeline.send_gallery(gallery(body, attachments, reply_to)).await
        };
        sent.map_err(|e| CoreError::SendFailed(e.to_string()))?;
        self.audit("send", Some(room_id)).await;
        Ok(())
    }

    /// Downloads and decrypts one attachment of a message (cached by the SDK).
    pub async fn attachment_content(
        &self,
        room_id: &str,
        event_id: &str,
        index: u32,
    ) -> Result<AttachmentContent, CoreError> {
        let event_id = OwnedEventId::try_from(event_id)
            .map_err(|_| CoreError::AttachmentUnavailable(format!("not an event id: {event_id}")))?;
        let timeline = self.timeline(room_id).await?;
        let item = loaded(&timeline, &event_id)
            .await
            .ok_or_else(|| CoreError::AttachmentUnavailable(format!("{event_id} is not in this conversation")))?;
        let message = item
            .content()
            .as_message()
            .ok_or_else(|| CoreError::AttachmentUnavailable(format!("{event_id} has no attachments")))?;
        let (attachment, source) = attachments_of(message.msgtype())
            .into_iter()
            .nth(index as usize)
            .ok_or_else(|| CoreError::AttachmentUnavailable(format!("{event_id} has no attachment {index}")))?;
        let request = MediaRequestParameters { source, format: MediaFormat::File };
        let data = self
            .client
            .media()
            .get_media_content(&request, true)
            .await
            .map_err(|e| CoreError::AttachmentUnavailable(e.to_string()))?;
        self.audit("download_attachment", Some(room_id)).await;
        Ok(AttachmentContent { filename: attachment.filename, mime: attachment.mime, data })
    }
}

/// The timeline item of an event, paginating back (at most 200 events) when
/// it is older than what is loaded. A homeserver that joined the room later
/// only backfills events from before its join when a client paginates.
async fn loaded(
    timeline: &matrix_sdk_ui::Timeline,
    event_id: &matrix_sdk::ruma::EventId,
) -> Option<matrix_sdk_ui::timeline::EventTimelineItem> {
    for _ in 0..5 {
        if let Some(item) = timeline.item_by_event_id(event_id).await {
            return Some(item);
        }
        match timeline.paginate_backwards(40).await {
            Ok(false) => {}
            // The start was reached, or paginating failed: one last look.
            _ => return timeline.item_by_event_id(event_id).await,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_attachments_are_refused_five_are_not() {
        let file = |n: usize| NewAttachment { filename: format!("{n}.txt"), mime: None, data: vec![b'x'] };
        assert!(validate(&(0..5).map(file).collect::<Vec<_>>()).is_ok());
        let err = validate(&(0..6).map(file).collect::<Vec<_>>()).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::TooManyAttachments);
    }

    #[test]
    fn the_type_comes_from_the_picker_then_the_content_then_the_name() {
        let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d];
        let a = |name: &str, mime: Option<&str>, data: &[u8]| NewAttachment {
            filename: name.into(),
            mime: mime.map(Into::into),
            data: data.to_vec(),
        };
        assert_eq!(a("x.bin", None, &png).mime().essence_str(), "image/png");
        assert_eq!(a("x.png", Some("application/pdf"), &png).mime().essence_str(), "application/pdf");
        assert_eq!(a("brief.TXT", None, b"hallo").mime().essence_str(), "text/plain");
        assert_eq!(a("x", None, b"??").mime().essence_str(), "application/octet-stream");
    }

    #[test]
    fn a_gallery_body_names_the_files_for_other_clients_and_kring_hides_that() {
        let config = gallery(
            "Zie bijlagen",
            vec![
                NewAttachment { filename: "a.pdf".into(), mime: None, data: b"%PDF-1.4".to_vec() },
                NewAttachment { filename: "b.txt".into(), mime: None, data: b"b".to_vec() },
            ],
            None,
        );
        assert_eq!(config.len(), 2);
        let attachments: Vec<Attachment> = ["a.pdf", "b.txt"]
            .iter()
            .enumerate()
            .map(|(i, n)| Attachment {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                filename: (*n).into(),
                mime: None,
                size: None,
                kind: AttachmentKind::File,
                allow_destroy: false,
            })
            .collect();
        let body = format!("Zie bijlagen{}", fallback_suffix(["a.pdf", "b.txt"]));
        assert_eq!(body, "Zie bijlagen\n\n📎 a.pdf, b.txt");
        let msgtype = MessageType::Gallery(matrix_sdk::ruma::events::room::message::GalleryMessageEventContent::new(
            body,
            None,
            vec![],
        ));
        assert_eq!(display_body(&msgtype, &attachments), "Zie bijlagen");
    }

    #[test]
    fn attachment_contents_stay_out_of_debug_output() {
        let a = NewAttachment { filename: "uitslag-jansen.pdf".into(), mime: None, data: b"geheim".to_vec() };
        let shown = format!("{a:?}");
        assert!(!shown.contains("geheim") && !shown.contains("jansen"), "{shown}");
    }
}
