// Unsent composer text per room, kept while the app runs so switching rooms
// never throws away what a clinician was writing. Not persisted.
const drafts = new Map<string, string>();

export const composerDrafts = {
  get(roomId: string): string {
    return drafts.get(roomId) ?? "";
  },
  set(roomId: string, text: string): void {
    if (text) drafts.set(roomId, text);
    else drafts.delete(roomId);
  },
  clear(): void {
    drafts.clear();
  },
};

/** What was entered in the "new conversation" form of one care team. */
export interface ConversationDraft {
  subject: string;
  body: string;
  recipients: string[];
  kind: "professional" | "client_inclusive";
  attachments: string[];
}

export function emptyConversationDraft(): ConversationDraft {
  return { subject: "", body: "", recipients: [], kind: "professional", attachments: [] };
}

// The unfinished "new conversation" per care team, so closing the form or
// switching clients never loses it. Not persisted.
const conversationDraftMap = new Map<string, ConversationDraft>();

export const conversationDrafts = {
  get(spaceId: string): ConversationDraft {
    const draft = conversationDraftMap.get(spaceId);
    return draft ? { ...draft, recipients: [...draft.recipients], attachments: [...draft.attachments] } : emptyConversationDraft();
  },
  set(spaceId: string, draft: ConversationDraft): void {
    const empty = !draft.subject && !draft.body && draft.recipients.length === 0 && draft.attachments.length === 0;
    if (empty) conversationDraftMap.delete(spaceId);
    else conversationDraftMap.set(spaceId, { ...draft, recipients: [...draft.recipients], attachments: [...draft.attachments] });
  },
  clear(): void {
    conversationDraftMap.clear();
  },
};
