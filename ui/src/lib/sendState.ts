// The state of an own unsent message, in words: what the timeline line and the
// send-problem notice say. Rust tells the failures apart by `code`; its
// `reason` is technical and only shown under "Details".
import type { Attachment, SendFailure, SendState, UploadProgress } from "$lib/ipc";
import { t } from "$lib/i18n/index.svelte";

/** A sentence saying why a message was not sent. */
export function failureText(code: SendFailure): string {
  return t(`sendFailure.${code}`);
}

/** The same, short enough for "(…)" inside another sentence. */
export function failureShort(code: SendFailure): string {
  return t(`sendFailureShort.${code}`);
}

/** How far an upload is, in whole percent (0 to 100); null while Rust does not know the sizes. */
export function uploadPercent(upload: UploadProgress): number | null {
  const { sentBytes, totalBytes } = upload;
  if (sentBytes === null || totalBytes === null || totalBytes <= 0) return null;
  return Math.min(100, Math.max(0, Math.floor((sentBytes / totalBytes) * 100)));
}

/** The file being uploaded, by name. */
export function uploadName(upload: UploadProgress, attachments: Attachment[]): string {
  return attachments[upload.index]?.filename ?? "";
}

/** "Bijlage 2 van 3, wond.jpg: 45%" ("wond.jpg: 45%" for a message with one file; no % while unknown). */
export function uploadText(upload: UploadProgress, attachments: Attachment[]): string {
  const name = uploadName(upload, attachments);
  const file =
    attachments.length > 1
      ? t("sendState.uploadMany", { number: upload.index + 1, total: attachments.length, name })
      : t("sendState.uploadOne", { name });
  const percent = uploadPercent(upload);
  return percent === null ? file : t("sendState.uploadPercent", { file, percent });
}

/**
 * What the message's line says: sending (or waiting, when sync is offline: the
 * SDK holds it back), waiting to be retried by the SDK, or failed for good.
 */
export type SendPhase = "sent" | "sending" | "waiting" | "retrying" | "failed";

export function sendPhase(state: SendState, offline: boolean): SendPhase {
  if (state.state === "sending") return offline ? "waiting" : "sending";
  if (state.state === "failed") return state.recoverable ? "retrying" : "failed";
  return "sent";
}
