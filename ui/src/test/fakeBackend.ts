// A stand-in for the Rust side at the module boundary: tests do
//   vi.mock("$lib/ipc/bindings", () => import("../test/fakeBackend").then((m) => m.bindingsModule));
// and drive `backend` to answer commands and push diffs through the channels the UI opened.
import { vi } from "vitest";
import type { Channel } from "@tauri-apps/api/core";
import type {
  AppError,
  Attachment,
  CareTeam,
  CareTeamInvite,
  ConversationSummary,
  ErrorCode,
  Member,
  Role,
  ListDiff,
  Result,
  RoomSummary,
  SessionInfo,
  SyncStatus,
  TimelineItem,
  TimelineContent,
} from "$lib/ipc";

export function ok<T>(data: T): Result<T, AppError> {
  return { status: "ok", data };
}

export function err(code: ErrorCode, detail = ""): { status: "error"; error: AppError } {
  return { status: "error", error: { code, detail } };
}

export const aSession: SessionInfo = {
  userId: "@an.verpleegkundige:zorg.example",
  deviceId: "DEVICE1",
  homeserver: "https://matrix.zorg.example",
  displayName: "An de Vries",
};

export function room(roomId: string, name: string, extra: Partial<RoomSummary> = {}): RoomSummary {
  return { roomId, name, unreadCount: 0, lastActivityMs: null, isEncrypted: true, ...extra };
}

export function message(
  id: string,
  body: string,
  extra: Partial<Extract<TimelineContent, { type: "message" }>> = {},
): TimelineItem {
  return {
    id,
    content: {
      type: "message",
      eventId: `$${id}`,
      sender: "@bob:zorg.example",
      senderName: "Bob Jansen",
      body,
      timestampMs: Date.UTC(2025, 2, 3, 13, 5), // 14:05 in Amsterdam
      isOwn: false,
      sendState: { state: "sent" },
      senderRole: "practitioner",
      allowDestroy: extra.isOwn ?? false,
      attachments: [],
      inReplyTo: null,
      ...extra,
    },
  };
}

export function attachment(index: number, filename: string, extra: Partial<Attachment> = {}): Attachment {
  return { index, filename, mime: null, size: null, kind: "file", allowDestroy: false, ...extra };
}

export function careTeam(spaceId: string, clientName: string): CareTeam {
  return { spaceId, clientName };
}

export function invite(spaceId: string, displayName: string, inviter: string | null = "@lead:zorg.example"): CareTeamInvite {
  return { spaceId, inviter, client: { displayName, pseudoBsn: "123456782" } };
}

export function member(userId: string, displayName: string, role: Role, joined = true): Member {
  return { userId, displayName, role, joined };
}

export function conversation(
  roomId: string,
  subject: string,
  extra: Partial<ConversationSummary> = {},
): ConversationSummary {
  return {
    roomId,
    subject,
    kind: "professional",
    status: "active",
    participants: [],
    joined: true,
    unreadCount: 0,
    lastActivityMs: null,
    ...extra,
  };
}

type Ch<T> = Channel<T>;

function createBackend() {
  let nextSub = 0;
  const channels = {
    rooms: [] as Ch<ListDiff<RoomSummary>[]>[],
    sync: [] as Ch<SyncStatus>[],
    timeline: [] as { roomId: string; id: string; channel: Ch<ListDiff<TimelineItem>[]> }[],
  };
  const commands = {
    login: vi.fn(),
    restoreSession: vi.fn(),
    logout: vi.fn(),
    watchRooms: vi.fn(),
    watchTimeline: vi.fn(),
    watchSync: vi.fn(),
    unsubscribe: vi.fn(),
    sendText: vi.fn(),
    sendMessage: vi.fn(),
    saveAttachment: vi.fn(),
    redact: vi.fn(),
    paginateBack: vi.fn(),
    careTeams: vi.fn(),
    createCareTeam: vi.fn(),
    careTeamInvites: vi.fn(),
    acceptCareTeamInvite: vi.fn(),
    careTeamMembers: vi.fn(),
    inviteToCareTeam: vi.fn(),
    conversations: vi.fn(),
    startConversation: vi.fn(),
    joinConversation: vi.fn(),
    setConversationStatus: vi.fn(),
  };

  function reset() {
    nextSub = 0;
    channels.rooms.length = 0;
    channels.sync.length = 0;
    channels.timeline.length = 0;
    for (const fn of Object.values(commands)) fn.mockReset();
    commands.login.mockResolvedValue(ok(aSession));
    commands.restoreSession.mockResolvedValue(ok(null));
    commands.logout.mockResolvedValue(ok(null));
    commands.watchRooms.mockImplementation(async (ch: Ch<ListDiff<RoomSummary>[]>) => {
      channels.rooms.push(ch);
      return ok(`rooms-${++nextSub}`);
    });
    commands.watchSync.mockImplementation(async (ch: Ch<SyncStatus>) => {
      channels.sync.push(ch);
      return ok(`sync-${++nextSub}`);
    });
    commands.watchTimeline.mockImplementation(async (roomId: string, ch: Ch<ListDiff<TimelineItem>[]>) => {
      const id = `timeline-${roomId}-${++nextSub}`;
      channels.timeline.push({ roomId, id, channel: ch });
      return ok(id);
    });
    commands.unsubscribe.mockResolvedValue(ok(null));
    commands.sendText.mockResolvedValue(ok(null));
    commands.sendMessage.mockResolvedValue(ok(null));
    commands.saveAttachment.mockImplementation(async (_roomId: string, eventId: string, index: number) =>
      ok(`/home/an/Downloads/${eventId.slice(1)}-${index}`),
    );
    commands.redact.mockResolvedValue(ok(null));
    commands.paginateBack.mockResolvedValue(ok(false));
    commands.careTeams.mockResolvedValue(ok([]));
    commands.careTeamInvites.mockResolvedValue(ok([]));
    commands.createCareTeam.mockImplementation(async (client: { displayName: string }) =>
      ok(careTeam(`!space-${++nextSub}`, client.displayName)),
    );
    commands.acceptCareTeamInvite.mockImplementation(async (spaceId: string) => ok(careTeam(spaceId, "")));
    commands.careTeamMembers.mockResolvedValue(ok([]));
    commands.inviteToCareTeam.mockResolvedValue(ok(null));
    commands.conversations.mockResolvedValue(ok([]));
    commands.startConversation.mockImplementation(async () => ok(`!conversation-${++nextSub}`));
    commands.joinConversation.mockResolvedValue(ok(null));
    commands.setConversationStatus.mockResolvedValue(ok(null));
  }

  function last<T>(list: T[], what: string): T {
    const item = list[list.length - 1];
    if (!item) throw new Error(`the UI opened no ${what} stream`);
    return item;
  }

  return {
    commands,
    channels,
    reset,
    /** Push one batch of room-list diffs, as Rust would. */
    pushRooms(diffs: ListDiff<RoomSummary>[]) {
      last(channels.rooms, "rooms").onmessage(diffs);
    },
    pushSync(status: SyncStatus) {
      last(channels.sync, "sync").onmessage(status);
    },
    /** Push a timeline batch into the latest stream (or the latest one of `roomId`). */
    pushTimeline(diffs: ListDiff<TimelineItem>[], roomId?: string) {
      const streams = roomId ? channels.timeline.filter((s) => s.roomId === roomId) : channels.timeline;
      last(streams, "timeline").channel.onmessage(diffs);
    },
  };
}

export const backend = createBackend();
backend.reset();

export const bindingsModule = { commands: backend.commands };
