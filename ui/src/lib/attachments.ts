// Files the user picked, on their way to Rust. The picker gives `File` objects;
// the command takes the bytes (tauri-specta has no binary type, so a number array).
import { ATTACHMENTS_MAX, type AppError, type AttachmentKind, type NewAttachment, type Result } from "$lib/ipc";

/**
 * Read the chosen files into what `sendMessage` and `startConversation` take.
 * A file that can no longer be read (moved, deleted, a cloud file offline)
 * becomes `attachment_unreadable` naming it, so the caller shows it like any
 * error from Rust and keeps everything the user entered.
 */
export async function toNewAttachments(files: File[]): Promise<Result<NewAttachment[], AppError>> {
  const read: NewAttachment[] = [];
  for (const file of files) {
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      read.push({ filename: file.name, mime: file.type || null, data: Array.from(bytes) });
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      return { status: "error", error: { code: "attachment_unreadable", detail: `${file.name}: ${reason}` } };
    }
  }
  return { status: "ok", data: read };
}

/**
 * Add `picked` to `files` up to the limit per message. Returns the new list and
 * the names of the files that did not fit, for the message that names them.
 */
export function addWithinLimit(files: File[], picked: File[], max = ATTACHMENTS_MAX): { files: File[]; refused: string[] } {
  const room = Math.max(0, max - files.length);
  return { files: [...files, ...picked.slice(0, room)], refused: picked.slice(room).map((f) => f.name) };
}

/** A symbol per kind; the kind is also said in words next to it for screen readers. */
export const KIND_ICONS: Record<AttachmentKind, string> = {
  image: "🖼",
  video: "🎞",
  audio: "🔊",
  file: "📄",
};
