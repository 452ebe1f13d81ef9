import {
  ipc,
  type AppError,
  type ConversationStatus,
  type ConversationSummary,
  type ListDiff,
  type Member,
  type NewConversation,
  type Result,
  type Role,
} from "$lib/ipc";
import { compareAttention } from "$lib/attention";
import { followList, LatestStream } from "./stream.svelte";

/**
 * Active before archived; within each, by needs attention: urgent or mentioning
 * unread first, then unread, then the most recent activity (unknown last).
 */
export function sortConversations(list: ConversationSummary[]): ConversationSummary[] {
  return [...list].sort((a, b) => {
    if (a.status !== b.status) return a.status === "archived" ? 1 : -1;
    return compareAttention(a, b);
  });
}

/**
 * The conversations and members of the one selected care team, as Rust
 * streams them (a reset, then diffs after each sync that changed a room).
 * After an action `refresh` reads them at once as requests; answers and
 * batches for a team no longer selected are dropped.
 */
export class ConversationsStore {
  spaceId = $state<string | null>(null);
  /** Sorted: active first, archived at the bottom; each by needs attention. */
  items = $state.raw<ConversationSummary[]>([]);
  members = $state.raw<Member[]>([]);
  loaded = $state(false);
  membersLoaded = $state(false);
  /** The last refresh of the conversations failed; what was loaded stays shown. */
  error = $state.raw<AppError | null>(null);
  membersError = $state.raw<AppError | null>(null);

  #onError: ((e: AppError) => void) | null = null;
  #generation = 0;
  #conversationsStream = new LatestStream<ListDiff<ConversationSummary>[]>();
  #membersStream = new LatestStream<ListDiff<Member>[]>();
  /** The team the streams follow now; null while paused or closed. */
  #following: string | null = null;

  apply(conversations: ConversationSummary[]): void {
    this.items = sortConversations(conversations);
    this.loaded = true;
  }

  applyMembers(members: Member[]): void {
    this.members = members;
    this.membersLoaded = true;
  }

  /** Show the care team `spaceId`: follow its conversations and members. */
  async open(spaceId: string, onError?: (e: AppError) => void): Promise<void> {
    this.#onError = onError ?? null;
    if (spaceId !== this.spaceId) {
      this.#generation++;
      this.spaceId = spaceId;
      this.#clear();
    } else if (this.#following === spaceId) {
      return;
    }
    this.#following = spaceId;
    await Promise.all([this.#openConversations(spaceId), this.#openMembers(spaceId)]);
  }

  /** Stop following but keep what is shown (the tab was left; `open` resumes). */
  pause(): void {
    this.#following = null;
    void this.#conversationsStream.close();
    void this.#membersStream.close();
  }

  /** Stop following and forget the team (back to the client list, logout). */
  close(): void {
    this.pause();
    this.#generation++;
    this.spaceId = null;
    this.#clear();
  }

  #openConversations(spaceId: string): Promise<boolean> {
    const shown = (list: ConversationSummary[]) => {
      this.#generation++; // a request under way is older than this
      this.error = null;
      this.apply(list);
    };
    return followList(this.#conversationsStream, (on) => ipc.watchConversations(spaceId, on), shown, (e) => {
      this.error = e;
      this.#onError?.(e);
    });
  }

  #openMembers(spaceId: string): Promise<boolean> {
    const shown = (list: Member[]) => {
      this.membersError = null;
      this.applyMembers(list);
    };
    return followList(this.#membersStream, (on) => ipc.watchCareTeamMembers(spaceId, on), shown, (e) => {
      this.membersError = e;
      this.#onError?.(e);
    });
  }

  async refresh(): Promise<void> {
    const spaceId = this.spaceId;
    if (!spaceId) return;
    const generation = this.#generation;
    const [conversations, members] = await Promise.all([ipc.conversations(spaceId), ipc.careTeamMembers(spaceId)]);
    if (generation !== this.#generation) return;
    if (conversations.status === "ok") {
      this.error = null;
      this.apply(conversations.data);
    } else {
      this.error = conversations.error;
      this.#onError?.(conversations.error);
    }
    if (members.status === "ok") {
      this.membersError = null;
      this.applyMembers(members.data);
    } else {
      this.membersError = members.error;
      if (conversations.status === "ok") this.#onError?.(members.error);
    }
  }

  /** Read again after an action (the stream follows within a sync): drop any answer under way. */
  #changed(): Promise<void> {
    this.#generation++;
    return this.refresh();
  }

  async join(roomId: string): Promise<Result<null, AppError>> {
    const res = await ipc.joinConversation(roomId);
    if (res.status === "ok") await this.#changed();
    return res;
  }

  async setStatus(roomId: string, status: ConversationStatus): Promise<Result<null, AppError>> {
    const res = await ipc.setConversationStatus(roomId, status);
    if (res.status === "ok") await this.#changed();
    return res;
  }

  /** Mark a conversation sensitive (senior or lead), or no longer. */
  async setSensitive(roomId: string, sensitive: boolean): Promise<Result<null, AppError>> {
    const res = await ipc.setConversationSensitive(roomId, sensitive);
    if (res.status === "ok") await this.#changed();
    return res;
  }

  /** Start a conversation in the selected team; resolves to the new room's id. */
  async start(request: NewConversation): Promise<Result<string, AppError>> {
    const res = await ipc.startConversation(request);
    if (res.status === "ok") await this.#changed();
    return res;
  }

  async invite(userId: string, role: Role): Promise<Result<null, AppError>> {
    const spaceId = this.spaceId;
    if (!spaceId) return { status: "error", error: { code: "not_a_care_team", detail: "no care team selected" } };
    const res = await ipc.inviteToCareTeam(spaceId, userId, role);
    if (res.status === "ok") await this.#changed();
    return res;
  }

  #clear(): void {
    this.items = [];
    this.members = [];
    this.loaded = false;
    this.membersLoaded = false;
    this.error = null;
    this.membersError = null;
  }
}

export const conversations = new ConversationsStore();
