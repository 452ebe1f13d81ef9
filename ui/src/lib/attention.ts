// "Needs attention", as the lists sort on it (PRODUCT.md, desktop layout):
// unread urgent messages and mentions of this user first, then anything
// unread, then the most recent activity. RoomSummary and ConversationSummary
// carry these fields as Rust counts them; a care team sums its conversations.

export interface Attention {
  unreadCount: number;
  /** Unread messages that highlight: urgent ones and mentions of this user. */
  unreadHighlights: number;
  lastActivityMs: number | null;
}

export const NO_ATTENTION: Attention = { unreadCount: 0, unreadHighlights: 0, lastActivityMs: null };

/** 0: something urgent or a mention is unread; 1: something else is unread; 2: nothing is. */
export function attentionTier(a: Attention): 0 | 1 | 2 {
  if (a.unreadHighlights > 0) return 0;
  if (a.unreadCount > 0) return 1;
  return 2;
}

/** By tier only: a stable sort keeps the order within a tier (e.g. Rust's). */
export function compareTier(a: Attention, b: Attention): number {
  return attentionTier(a) - attentionTier(b);
}

/** By tier, then the most recent activity first (unknown activity last). */
export function compareAttention(a: Attention, b: Attention): number {
  const tier = compareTier(a, b);
  if (tier !== 0) return tier;
  if (a.lastActivityMs === b.lastActivityMs) return 0;
  if (a.lastActivityMs == null) return 1;
  if (b.lastActivityMs == null) return -1;
  return b.lastActivityMs - a.lastActivityMs;
}

/** The counts added up, the latest activity of all. */
export function sumAttention(list: readonly Attention[]): Attention {
  let unreadCount = 0;
  let unreadHighlights = 0;
  let lastActivityMs: number | null = null;
  for (const a of list) {
    unreadCount += a.unreadCount;
    unreadHighlights += a.unreadHighlights;
    if (a.lastActivityMs != null && (lastActivityMs == null || a.lastActivityMs > lastActivityMs)) {
      lastActivityMs = a.lastActivityMs;
    }
  }
  return { unreadCount, unreadHighlights, lastActivityMs };
}
