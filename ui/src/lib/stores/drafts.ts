import type { ReplyTarget } from "$lib/reply";

// Unsent composer content per room, kept while the app runs so switching rooms
// never throws away what a clinician was writing or attaching. Not persisted:
// the files stay `File` objects in memory, read only when sending.

/** What was entered in the composer of one room. */
export interface ComposerDraft {
  text: string;
  files: File[];
  /** The message being answered, if the user chose "Beantwoorden". */
  replyTo: ReplyTarget | null;
  /** "Urgent" is switched on for the next message. */
  urgent: boolean;
}

export function emptyComposerDraft(): ComposerDraft {
  return { text: "", files: [], replyTo: null, urgent: false };
}

const drafts = new Map<string, ComposerDraft>();

export const composerDrafts = {
  get(roomId: string): ComposerDraft {
    const draft = drafts.get(roomId);
    return draft ? { ...draft, files: [...draft.files] } : emptyComposerDraft();
  },
  set(roomId: string, draft: ComposerDraft): void {
    if (draft.text || draft.files.length > 0 || draft.replyTo || draft.urgent) drafts.set(roomId, { ...draft, files: [...draft.files] });
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
  /** Read into bytes only on submit, so a draft costs no copy of the files. */
  attachments: File[];
  /** Keep the subject out of lists and notifications. */
  sensitive: boolean;
}

export function emptyConversationDraft(): ConversationDraft {
  return { subject: "", body: "", recipients: [], kind: "professional", attachments: [], sensitive: false };
}

// The unfinished "new conversation" per care team, so closing the form or
// switching clients never loses it. Not persisted.
const conversationDraftMap = new Map<string, ConversationDraft>();

function copy(draft: ConversationDraft): ConversationDraft {
  return { ...draft, recipients: [...draft.recipients], attachments: [...draft.attachments] };
}

export const conversationDrafts = {
  get(spaceId: string): ConversationDraft {
    const draft = conversationDraftMap.get(spaceId);
    return draft ? copy(draft) : emptyConversationDraft();
  },
  set(spaceId: string, draft: ConversationDraft): void {
    const empty =
      !draft.subject && !draft.body && draft.recipients.length === 0 && draft.attachments.length === 0 && !draft.sensitive;
    if (empty) conversationDraftMap.delete(spaceId);
    else conversationDraftMap.set(spaceId, copy(draft));
  },
  clear(): void {
    conversationDraftMap.clear();
  },
};
