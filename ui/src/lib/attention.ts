// "Needs attention", as the lists sort on it (PRODUCT.md, desktop layout):
// unread urgent messages and mentions of this user first, then anything
// unread, then the most recent activity. RoomSummary, ConversationSummary and
// CareTeam (its conversations summed) carry these fields as Rust counts them.

export interface Attention {
  unreadCount: number;
  /** Unread messages that highlight: urgent ones and mentions of this user. */
  unreadHighlights: number;
  lastActivityMs: number | null;
}

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
