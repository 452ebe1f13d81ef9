// Rooms and their timelines: the room list, the sync status, sending messages
// and their attachments (kept in memory, served as data: URLs).
import type { Attachment, ListDiff, NewAttachment, RoomSummary, SyncStatus, TimelineItem } from "$lib/ipc";
import { type AnyChannel, type Commands, type Mock, MIN, fail, now } from "./core";

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
    { roomId: "!jansen", name: "Familie Jansen", unreadCount: 2, lastActivityMs: now - 12 * MIN, isEncrypted: true },
    { roomId: "!deboer", name: "Dhr. de Boer — wondzorg", unreadCount: 0, lastActivityMs: now - 26 * 60 * MIN, isEncrypted: true },
    { roomId: "!wijk", name: "Wijkteam Noord", unreadCount: 0, lastActivityMs: now - 5 * 24 * 60 * MIN, isEncrypted: true },
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
      msg("j3", "Fatima Yilmaz", "Huisarts komt morgen om 10:00.", 14 * MIN),
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

  /** A message from this user: "sending" at once, "sent" (or failed) a moment later. */
  function sendMessage(roomId: string, body: string, attachments: NewAttachment[], inReplyTo: string | null): null {
    if (body === "/offline" || body === "/online") {
      sync = body === "/offline" ? "offline" : "running";
      mock.push("sync", sync);
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
      sendState: { state: "sending" },
      attachments: described,
      inReplyTo,
    });
    list.push(item);
    mock.push("timeline", [{ op: "pushBack", value: item }], roomId);
    setTimeout(() => {
      const index = list.indexOf(item);
      const failed = body.includes("mislukt") || sync === "offline";
      const done: TimelineItem = {
        ...item,
        content: {
          ...(item.content as Message),
          eventId: failed ? null : `$${item.id}`,
          sendState: failed
            ? { state: "failed", reason: "server niet bereikbaar", recoverable: true }
            : { state: "sent" },
        },
      };
      list[index] = done;
      mock.push("timeline", [{ op: "set", index, value: done }], roomId);
    }, 900);
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
      setTimeout(() => mock.push("rooms", [{ op: "reset", values: rooms }] satisfies ListDiff<RoomSummary>[]), 400);
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
      return sendMessage(args.roomId as string, args.body as string, [], null);
    },
    send_message: (args) => {
      mock.requireSession();
      return sendMessage(
        args.roomId as string,
        args.body as string,
        args.attachments as NewAttachment[],
        (args.inReplyTo as string | null) ?? null,
      );
    },
    save_attachment: (args) => {
      mock.requireSession();
      const found = findAttachment(args.roomId as string, args.eventId as string, args.index as number);
      return `/home/demo/Downloads/${found.filename}`;
    },
  };

  return { rooms, timelines, keep, serve, commands };
}
