// Rooms and their timelines: the room list, the sync status, sending messages
// and their attachments (kept in memory, served as data: URLs), the send queue
// (waiting while offline, upload progress, failures, retry / edit / discard)
// and read receipts.
import type {
  Attachment,
  ListDiff,
  NewAttachment,
  RoomSummary,
  SendFailure,
  SendProblem,
  SendState,
  SyncStatus,
  TimelineItem,
} from "$lib/ipc";
import { type AnyChannel, type Commands, type Mock, MIN, fail, now } from "./core";
import { ACTIVATIONS } from "./notifications";

export type Message = Extract<TimelineItem["content"], { type: "message" }>;

export function msg(
  id: string,
  senderName: string,
  body: string,
  ago: number,
  own = false,
  extra: Partial<Message> = {},
): TimelineItem {
  return {
    id,
    content: {
      type: "message",
      eventId: `$${id}`,
      sender: own ? "@demo:kring.test" : `@${senderName.split(" ")[0]!.toLowerCase()}:kring.test`,
      senderName,
      body,
      timestampMs: now - ago,
      isOwn: own,
      sendState: { state: "sent" },
      senderRole: "practitioner",
      allowDestroy: own,
      attachments: [],
      inReplyTo: null,
      urgent: false,
      ...extra,
    },
  };
}

const EXTENSION_KINDS: Record<string, Attachment["kind"]> = {
  jpg: "image",
  jpeg: "image",
  png: "image",
  gif: "image",
  webp: "image",
  svg: "image",
  mp4: "video",
  mov: "video",
  mp3: "audio",
  m4a: "audio",
  ogg: "audio",
};

/** As Rust decides it: from the MIME type, else from the file name. */
function kindOf(filename: string, mime: string | null): Attachment["kind"] {
  const top = mime?.split("/")[0];
  if (top === "image" || top === "video" || top === "audio") return top;
  return EXTENSION_KINDS[filename.split(".").pop()?.toLowerCase() ?? ""] ?? "file";
}

function dataUrl(mime: string, data: number[]): string {
  let binary = "";
  for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.slice(i, i + 0x8000));
  return `data:${mime};base64,${btoa(binary)}`;
}

// A drawn stand-in for a wound photo, so the demo shows an inline image.
const DEMO_PHOTO = `data:image/svg+xml,${encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="200"><rect width="320" height="200" fill="#e6f2f2"/>' +
    '<circle cx="160" cy="100" r="48" fill="#d9a3a0"/><text x="160" y="186" text-anchor="middle" ' +
    'font-family="sans-serif" font-size="14" fill="#1b2529">Wondfoto (demo)</text></svg>',
)}`;

/** Words that make a demo message fail for good, and how. */
const FAILING_WORDS: [string, SendFailure, string][] = [
  ["mislukt", "server", "M_UNKNOWN: 500 Internal Server Error (demo)"],
  ["te groot", "tooLarge", "M_TOO_LARGE: event too large (demo)"],
];

/** How long the demo takes per upload step and to get a message to the server. */
const UPLOAD_STEP_MS = 150;
const SEND_MS = 900;

/** The path attachmentUrl builds for an attachment (room/event/index). */
function mediaKey(roomId: string, eventId: string, index: number): string {
  return `${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}/${index}`;
}

export interface Rooms {
  rooms: RoomSummary[];
  timelines: Record<string, TimelineItem[]>;
  /** Store what was attached under the event's address and describe it as a timeline item does. */
  keep(roomId: string, eventId: string, attachments: NewAttachment[]): Attachment[];
  /** In place of convertFileSrc: kring-media paths as data: URLs. */
  serve(path: string, protocol?: string): string;
  commands: Commands;
}

export function createRooms(mock: Mock): Rooms {
  const rooms: RoomSummary[] = [
    // Familie Jansen: two unread after the read marker, one of them urgent (j3), so one highlights.
    { roomId: "!jansen", name: "Familie Jansen", unreadCount: 2, unreadHighlights: 1, lastActivityMs: now - 12 * MIN, isEncrypted: true, sensitive: false },
    {
      roomId: "!deboer",
      name: "Dhr. de Boer — wondzorg",
      unreadCount: 0,
      unreadHighlights: 0,
      lastActivityMs: now - 26 * 60 * MIN,
      isEncrypted: true,
      sensitive: false,
    },
    { roomId: "!wijk", name: "Wijkteam Noord", unreadCount: 0, unreadHighlights: 0, lastActivityMs: now - 5 * 24 * 60 * MIN, isEncrypted: true, sensitive: false },
  ];
  const timelines: Record<string, TimelineItem[]> = {
    "!jansen": [
      { id: "d1", content: { type: "dayDivider", timestampMs: now - 26 * 60 * MIN } },
      {
        id: "n1",
        content: {
          type: "notice",
          notice: { kind: "membership", userId: "@fatima:zorg.example", displayName: "Fatima Yilmaz", change: "joined" },
        },
      },
      msg("j1", "Fatima Yilmaz", "Mevrouw Jansen heeft vannacht onrustig geslapen.", 25 * 60 * MIN),
      { id: "d2", content: { type: "dayDivider", timestampMs: now - 40 * MIN } },
      msg("j2", "Demo Gebruiker", "Dank je. Ik kijk er vanmiddag naar.", 40 * MIN, true),
      { id: "r1", content: { type: "readMarker" } },
      msg("j3", "Fatima Yilmaz", "Huisarts komt morgen om 10:00.", 14 * MIN, false, { urgent: true }),
      msg("j4", "Bram Visser", "Medicatielijst is bijgewerkt.\nGraag even controleren.", 12 * MIN, false, {
        inReplyTo: "$j3",
        attachments: [
          { index: 0, filename: "medicatielijst.pdf", mime: "application/pdf", size: 48_213, kind: "file", allowDestroy: false },
        ],
      }),
    ],
    "!deboer": [
      msg("b1", "Bram Visser", "Wond ziet er rustig uit, verband gewisseld.", 26 * 60 * MIN, false, {
        attachments: [{ index: 0, filename: "wond.svg", mime: "image/svg+xml", size: 412, kind: "image", allowDestroy: false }],
      }),
      // Failed for good, to show retry, edit and discard.
      msg("b2", "Demo Gebruiker", "Verband morgen om 8:00 opnieuw wisselen?", 25 * 60 * MIN, true, {
        eventId: null,
        allowDestroy: false,
        sendState: { state: "failed", code: "server", reason: "M_UNKNOWN: 500 Internal Server Error (demo)", recoverable: false },
      }),
    ],
    "!wijk": [],
  };
  let sync: SyncStatus = "running";
  /** Attachment contents by the path attachmentUrl builds (room/event/index). */
  const media = new Map<string, string>([[mediaKey("!deboer", "$b1", 0), DEMO_PHOTO]]);

  function keep(roomId: string, eventId: string, attachments: NewAttachment[]): Attachment[] {
    return attachments.map((a, index) => {
      const mime = a.mime ?? null;
      media.set(mediaKey(roomId, eventId, index), dataUrl(mime ?? "application/octet-stream", a.data));
      return { index, filename: a.filename, mime, size: a.data.length, kind: kindOf(a.filename, mime), allowDestroy: true };
    });
  }

  /** Own messages held back until "/online" (sync offline, or "offline" in the text). */
  const waiting = new Set<string>();
  /** Messages the user asked to send again: the demo server takes them this time. */
  const retried = new Set<string>();

  function locate(roomId: string, itemId: string): { list: TimelineItem[]; index: number; content: Message } {
    const list = timelines[roomId] ?? fail("unknown_room", roomId);
    const index = list.findIndex((i) => i.id === itemId);
    const content = list[index]?.content;
    if (!content || content.type !== "message" || !content.isOwn || content.sendState.state === "sent") {
      fail("internal", `no unsent message ${itemId} in ${roomId}`);
    }
    return { list, index, content };
  }

  /** Change an own message's content and tell the timeline, as Rust's local echo does. */
  function update(roomId: string, itemId: string, change: Partial<Message>): Message | null {
    const list = timelines[roomId];
    const index = list?.findIndex((i) => i.id === itemId) ?? -1;
    const old = list?.[index];
    if (!list || !old || old.content.type !== "message") return null; // discarded meanwhile
    const item: TimelineItem = { ...old, content: { ...old.content, ...change } };
    list[index] = item;
    mock.push("timeline", [{ op: "set", index, value: item }], roomId);
    return item.content as Message;
  }

  const sending = (upload: Extract<SendState, { state: "sending" }>["upload"] = null): SendState => ({ state: "sending", upload });

  /** The send queue for one message: wait, upload file by file, then sent or failed for good. */
  async function transmit(roomId: string, itemId: string): Promise<void> {
    const content = update(roomId, itemId, { sendState: sending() });
    if (!content) return;
    const heldBack = !retried.has(itemId) && content.body.toLowerCase().includes("offline");
    if (sync === "offline" || heldBack) {
      waiting.add(itemId);
      return;
    }
    for (const attachment of content.attachments) {
      const totalBytes = attachment.size ?? 0;
      for (const part of [0, 0.5, 1]) {
        await new Promise((r) => setTimeout(r, UPLOAD_STEP_MS));
        const upload = { index: attachment.index, sentBytes: Math.round(totalBytes * part), totalBytes };
        if (!update(roomId, itemId, { sendState: sending(upload) })) return;
      }
    }
    await new Promise((r) => setTimeout(r, SEND_MS));
    const latest = timelines[roomId]?.find((i) => i.id === itemId)?.content;
    if (latest?.type !== "message") return;
    const failing = retried.has(itemId) ? undefined : FAILING_WORDS.find(([word]) => latest.body.includes(word));
    if (!failing) {
      update(roomId, itemId, { eventId: `$${itemId}`, sendState: { state: "sent" }, allowDestroy: true });
      return;
    }
    const [, code, reason] = failing;
    update(roomId, itemId, { sendState: { state: "failed", code, reason, recoverable: false } });
    const roomName = rooms.find((r) => r.roomId === roomId)?.name ?? roomId;
    mock.push("sendProblems", { roomId, roomName, code, reason } satisfies SendProblem);
  }

  function setSync(next: SyncStatus) {
    sync = next;
    mock.push("sync", sync);
    if (sync !== "running") return;
    for (const [roomId, list] of Object.entries(timelines)) {
      for (const item of list) {
        if (waiting.delete(item.id)) {
          retried.add(item.id); // what waited for the connection is not failed on top of that
          void transmit(roomId, item.id);
        }
      }
    }
  }

  /**
   * A message from this user: "sending" at once, then uploaded and "sent" (or
   * failed) a moment later. Demo commands: "/offline" and "/online" switch the
   * connection; "/melding" clicks a desktop notification of another room.
   */
  function sendMessage(
    roomId: string,
    body: string,
    attachments: NewAttachment[],
    inReplyTo: string | null,
    urgent: boolean,
  ): null {
    if (body === "/offline" || body === "/online") {
      setSync(body === "/offline" ? "offline" : "running");
      return null;
    }
    if (body === "/melding") {
      const other = rooms.find((r) => r.roomId !== roomId) ?? rooms[0];
      if (other) setTimeout(() => mock.push(ACTIVATIONS, other.roomId), 1500);
      return null;
    }
    const list = timelines[roomId];
    if (!list) fail("unknown_room", roomId);
    if (attachments.length > 5) fail("too_many_attachments", `${attachments.length}`);
    if (!body.trim() && attachments.length === 0) fail("body_missing", "");
    const id = `local-${mock.nextId()}`;
    const described = keep(roomId, `$${id}`, attachments);
    const item = msg(id, "Demo Gebruiker", body, 0, true, {
      eventId: null,
      timestampMs: Date.now(),
      sendState: sending(),
      allowDestroy: false,
      attachments: described,
      inReplyTo,
      urgent,
    });
    list.push(item);
    mock.push("timeline", [{ op: "pushBack", value: item }], roomId);
    void transmit(roomId, id);
    return null;
  }

  function markRead(roomId: string): null {
    const index = rooms.findIndex((r) => r.roomId === roomId);
    const summary = rooms[index];
    if (!summary) fail("unknown_room", roomId);
    if (summary.unreadCount > 0 || summary.unreadHighlights > 0) {
      rooms[index] = { ...summary, unreadCount: 0, unreadHighlights: 0 };
      mock.push("rooms", [{ op: "set", index, value: rooms[index] }] satisfies ListDiff<RoomSummary>[]);
    }
    return null;
  }

  function findAttachment(roomId: string, eventId: string, index: number): Attachment {
    for (const item of timelines[roomId] ?? []) {
      const c = item.content;
      if (c.type === "message" && c.eventId === eventId) {
        const found = c.attachments.find((a) => a.index === index);
        if (found) return found;
      }
    }
    return fail("attachment_unavailable", `${roomId} ${eventId} ${index}`);
  }

  const serve = (path: string, protocol = "asset") =>
    (protocol === "kring-media" && media.get(path)) || `${protocol}://localhost/${encodeURIComponent(path)}`;

  const commands: Commands = {
    watch_rooms: (args) => {
      mock.requireSession();
      const ch = args.onUpdate as AnyChannel;
      const id = mock.open("rooms", ch);
      // A related person fresh from the care platform is in no conversation yet.
      const values = mock.carePlatform ? [] : rooms;
      setTimeout(() => mock.push("rooms", [{ op: "reset", values }] satisfies ListDiff<RoomSummary>[]), 400);
      return id;
    },
    watch_sync: (args) => {
      mock.requireSession();
      const id = mock.open("sync", args.onUpdate as AnyChannel);
      setTimeout(() => mock.push("sync", sync), 50);
      return id;
    },
    watch_timeline: (args) => {
      mock.requireSession();
      const roomId = args.roomId as string;
      if (!(roomId in timelines)) fail("unknown_room", roomId);
      const id = mock.open("timeline", args.onUpdate as AnyChannel, roomId);
      setTimeout(() => mock.push("timeline", [{ op: "reset", values: timelines[roomId] }], roomId), 300);
      return id;
    },
    paginate_back: () => true,
    send_text: (args) => {
      mock.requireSession();
      return sendMessage(args.roomId as string, args.body as string, [], null, false);
    },
    send_message: (args) => {
      mock.requireSession();
      return sendMessage(
        args.roomId as string,
        args.body as string,
        args.attachments as NewAttachment[],
        (args.inReplyTo as string | null) ?? null,
        (args.urgent as boolean | undefined) ?? false,
      );
    },
    retry_send: (args) => {
      mock.requireSession();
      const roomId = args.roomId as string;
      const itemId = args.itemId as string;
      locate(roomId, itemId);
      retried.add(itemId);
      void transmit(roomId, itemId);
      return null;
    },
    edit_unsent: (args) => {
      mock.requireSession();
      const roomId = args.roomId as string;
      const itemId = args.itemId as string;
      const body = (args.body as string).trim();
      const { content } = locate(roomId, itemId);
      if (!body && content.attachments.length === 0) fail("body_missing", "");
      retried.delete(itemId); // the new text is judged afresh
      update(roomId, itemId, { body });
      void transmit(roomId, itemId);
      return null;
    },
    discard_unsent: (args) => {
      mock.requireSession();
      const roomId = args.roomId as string;
      const itemId = args.itemId as string;
      const { list, index } = locate(roomId, itemId);
      list.splice(index, 1);
      waiting.delete(itemId);
      mock.push("timeline", [{ op: "remove", index }], roomId);
      return null;
    },
    watch_send_problems: (args) => {
      mock.requireSession();
      return mock.open("sendProblems", args.onUpdate as AnyChannel);
    },
    mark_read: (args) => {
      mock.requireSession();
      return markRead(args.roomId as string);
    },
    save_attachment: (args) => {
      mock.requireSession();
      const found = findAttachment(args.roomId as string, args.eventId as string, args.index as number);
      return `/home/demo/Downloads/${found.filename}`;
    },
  };

  return { rooms, timelines, keep, serve, commands };
}
