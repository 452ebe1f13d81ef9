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
