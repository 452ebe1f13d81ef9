// An in-memory stand-in for the Rust side, for running the UI in a plain browser
// (`npm run dev:mock`, `npm run build:mock`): demos, screenshots and fast browser
// tests without the Tauri shell. Never part of the normal build: main.ts imports
// it only when VITE_MOCK_IPC=1.
//
// Test hooks in the browser: log in with password "fout" for wrong_credentials;
// a message containing "mislukt" fails to send; "/offline" and "/online" switch
// the sync banner.
import { mockIPC } from "@tauri-apps/api/mocks";
import type { Channel } from "@tauri-apps/api/core";
import type { AppError, ListDiff, RoomSummary, SessionInfo, SyncStatus, TimelineItem } from "$lib/ipc";

type AnyChannel = Channel<unknown>;

class Stream {
  private index = 0;
  constructor(private readonly channel: AnyChannel) {}
  send(message: unknown) {
    // Go through the real Channel message path (ordering by index).
    window.__TAURI_INTERNALS__.runCallback(this.channel.id, { index: this.index++, message });
  }
}

declare global {
  interface Window {
    __TAURI_INTERNALS__: { runCallback: (id: number, data: unknown) => void };
  }
}

const MIN = 60_000;
const now = Date.now();

function msg(id: string, senderName: string, body: string, ago: number, own = false): TimelineItem {
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
    },
  };
}

function fail(code: AppError["code"], detail: string): never {
  throw { code, detail } satisfies AppError;
}

export function installMockBackend(): void {
  let session: SessionInfo | null = null;
  let nextId = 1;
  const streams = new Map<string, { roomId?: string; kind: string; stream: Stream }>();

  const rooms: RoomSummary[] = [
    { roomId: "!jansen", name: "Familie Jansen", unreadCount: 2, lastActivityMs: now - 12 * MIN, isEncrypted: true },
    { roomId: "!deboer", name: "Dhr. de Boer — wondzorg", unreadCount: 0, lastActivityMs: now - 26 * 60 * MIN, isEncrypted: true },
    { roomId: "!wijk", name: "Wijkteam Noord", unreadCount: 0, lastActivityMs: now - 5 * 24 * 60 * MIN, isEncrypted: true },
  ];
  const timelines: Record<string, TimelineItem[]> = {
    "!jansen": [
      { id: "d1", content: { type: "dayDivider", timestampMs: now - 26 * 60 * MIN } },
      { id: "n1", content: { type: "notice", text: "Fatima Yilmaz joined the room" } },
      msg("j1", "Fatima Yilmaz", "Mevrouw Jansen heeft vannacht onrustig geslapen.", 25 * 60 * MIN),
      { id: "d2", content: { type: "dayDivider", timestampMs: now - 40 * MIN } },
      msg("j2", "Demo Gebruiker", "Dank je. Ik kijk er vanmiddag naar.", 40 * MIN, true),
      { id: "r1", content: { type: "readMarker" } },
      msg("j3", "Fatima Yilmaz", "Huisarts komt morgen om 10:00.", 14 * MIN),
      msg("j4", "Bram Visser", "Medicatielijst is bijgewerkt.\nGraag even controleren.", 12 * MIN),
    ],
    "!deboer": [msg("b1", "Bram Visser", "Wond ziet er rustig uit, verband gewisseld.", 26 * 60 * MIN)],
    "!wijk": [],
  };
  let sync: SyncStatus = "running";

  function open(kind: string, channel: AnyChannel, roomId?: string): string {
    const id = `${kind}-${nextId++}`;
    streams.set(id, { kind, roomId, stream: new Stream(channel) });
    return id;
  }
  function push(kind: string, message: unknown, roomId?: string) {
    for (const s of streams.values()) if (s.kind === kind && s.roomId === roomId) s.stream.send(message);
  }
  function requireSession() {
    if (!session) fail("not_logged_in", "no session");
  }

  mockIPC(async (cmd, raw) => {
    const args = (raw ?? {}) as Record<string, unknown>;
    await new Promise((r) => setTimeout(r, 150));
    switch (cmd) {
      case "restore_session":
        return session;
      case "login": {
        const req = args.request as { homeserver: string; username: string; password: string };
        if (!/^https?:\/\/\S+$/.test(req.homeserver)) fail("invalid_homeserver", `not a URL: ${req.homeserver}`);
        if (req.password === "fout") fail("wrong_credentials", "M_FORBIDDEN: Invalid username or password");
        session = {
          userId: `@${req.username}:${new URL(req.homeserver).hostname}`,
          deviceId: "MOCKDEVICE",
          homeserver: req.homeserver,
          displayName: "Demo Gebruiker",
        };
        return session;
      }
      case "logout":
        session = null;
        streams.clear();
        return null;
      case "watch_rooms": {
        requireSession();
        const ch = args.onUpdate as AnyChannel;
        const id = open("rooms", ch);
        setTimeout(() => push("rooms", [{ op: "reset", values: rooms }] satisfies ListDiff<RoomSummary>[]), 400);
        return id;
      }
      case "watch_sync": {
        requireSession();
        const id = open("sync", args.onUpdate as AnyChannel);
        setTimeout(() => push("sync", sync), 50);
        return id;
      }
      case "watch_timeline": {
        requireSession();
        const roomId = args.roomId as string;
        if (!(roomId in timelines)) fail("unknown_room", roomId);
        const id = open("timeline", args.onUpdate as AnyChannel, roomId);
        setTimeout(() => push("timeline", [{ op: "reset", values: timelines[roomId] }], roomId), 300);
        return id;
      }
      case "unsubscribe":
        streams.delete(args.id as string);
        return null;
      case "paginate_back":
        return true;
      case "send_text": {
        requireSession();
        const roomId = args.roomId as string;
        const body = args.body as string;
        if (body === "/offline" || body === "/online") {
          sync = body === "/offline" ? "offline" : "running";
          push("sync", sync);
          return null;
        }
        const list = timelines[roomId];
        if (!list) fail("unknown_room", roomId);
        const item = msg(`local-${nextId++}`, "Demo Gebruiker", body, 0, true);
        if (item.content.type === "message") {
          item.content.eventId = null;
          item.content.timestampMs = Date.now();
          item.content.sendState = { state: "sending" };
        }
        list.push(item);
        push("timeline", [{ op: "pushBack", value: item }], roomId);
        setTimeout(() => {
          const index = list.indexOf(item);
          const failed = body.includes("mislukt") || sync === "offline";
          const done: TimelineItem = {
            ...item,
            content: {
              ...(item.content as Extract<TimelineItem["content"], { type: "message" }>),
              eventId: failed ? null : `$${item.id}`,
              sendState: failed
                ? { state: "failed", reason: "server niet bereikbaar", recoverable: true }
                : { state: "sent" },
            },
          };
          list[index] = done;
          push("timeline", [{ op: "set", index, value: done }], roomId);
        }, 900);
        return null;
      }
      default:
        throw new Error(`mock backend: unknown command ${cmd}`);
    }
  });
}
