// Replies: what the composer and a quote block show about the message answered.
import type { MessageContent, TimelineContent, TimelineItem } from "$lib/ipc";

/** The message being answered, as much of it as a quote needs. */
export interface ReplyTarget {
  eventId: string;
  senderName: string;
  isOwn: boolean;
  /** Already shortened for a one-line quote. */
  snippet: string;
}

export const SNIPPET_MAX = 80;

/** The first `max` characters of `text` on one line, with "…" where it was cut. */
export function snippet(text: string, max = SNIPPET_MAX): string {
  const line = text.replace(/\s+/g, " ").trim();
  // Array.from counts an emoji as one character and never cuts it in half.
  const chars = Array.from(line);
  return chars.length <= max ? line : `${chars.slice(0, max).join("").trimEnd()}…`;
}

/** A message that is only files has no text to quote: its file names stand in. */
function quotable(c: MessageContent): string {
  return c.body.trim() || c.attachments.map((a) => a.filename).join(", ");
}

/** What to quote for a reply to `c`; null when it has no event id yet (still sending). */
export function replyTarget(c: MessageContent): ReplyTarget | null {
  if (!c.eventId) return null;
  return { eventId: c.eventId, senderName: c.senderName, isOwn: c.isOwn, snippet: snippet(quotable(c)) };
}

/** Messages and redactions by event id, to find what a reply answers. */
export function indexByEventId(items: TimelineItem[]): Map<string, TimelineContent> {
  const map = new Map<string, TimelineContent>();
  for (const { content } of items) {
    if ((content.type === "message" || content.type === "redacted") && content.eventId) map.set(content.eventId, content);
  }
  return map;
}

/**
 * What a reply's quote block says about the message it answers: `null` when
 * that is not loaded (older than the loaded timeline); `snippet` null when it
 * was redacted (its text is gone).
 */
export function quoteOf(
  answered: TimelineContent | undefined,
): { senderName: string; isOwn: boolean; snippet: string | null } | null {
  if (answered?.type === "message") {
    return { senderName: answered.senderName, isOwn: answered.isOwn, snippet: snippet(quotable(answered)) };
  }
  if (answered?.type === "redacted") return { senderName: answered.senderName, isOwn: false, snippet: null };
  return null;
}
