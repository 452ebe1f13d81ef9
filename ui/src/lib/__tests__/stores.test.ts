import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import { TimelineStore } from "$lib/stores/timeline.svelte";
import { RoomsStore } from "$lib/stores/rooms.svelte";
import { SessionStore } from "$lib/stores/session.svelte";
import { SyncStore } from "$lib/stores/sync.svelte";
import { aSession, backend, err, message, ok, room } from "../../test/fakeBackend";

beforeEach(() => backend.reset());

describe("TimelineStore", () => {
  it("subscribes to the room and applies its batches", async () => {
    const tl = new TimelineStore();
    await tl.open("!a");
    expect(backend.commands.watchTimeline).toHaveBeenCalledWith("!a", expect.anything());
    expect(tl.loaded).toBe(false);
    backend.pushTimeline([{ op: "reset", values: [message("1", "hoi")] }]);
    backend.pushTimeline([{ op: "pushBack", value: message("2", "hallo") }]);
    expect(tl.loaded).toBe(true);
    expect(tl.items.map((i) => i.id)).toEqual(["1", "2"]);
  });

  it("unsubscribes the old room when switching and ignores its late batches", async () => {
    const tl = new TimelineStore();
    await tl.open("!a");
    const oldId = backend.channels.timeline[0]!.id;
    backend.pushTimeline([{ op: "reset", values: [message("a1", "in a")] }], "!a");

    await tl.open("!b");
    expect(backend.commands.unsubscribe).toHaveBeenCalledWith(oldId);
    expect(tl.roomId).toBe("!b");
    expect(tl.items).toEqual([]);

    backend.pushTimeline([{ op: "pushBack", value: message("a2", "late in a") }], "!a");
    backend.pushTimeline([{ op: "reset", values: [message("b1", "in b")] }], "!b");
    expect(tl.items.map((i) => i.id)).toEqual(["b1"]);
  });

  it("closes a subscription that completes after the user already moved on", async () => {
    const tl = new TimelineStore();
    let finishA!: () => void;
    backend.commands.watchTimeline.mockImplementationOnce(
      (roomId: string, ch) =>
        new Promise((resolve) => {
          backend.channels.timeline.push({ roomId, id: "slow-a", channel: ch });
          finishA = () => resolve(ok("slow-a"));
        }),
    );
    const openingA = tl.open("!a");
    await tl.open("!b");
    finishA();
    await openingA;
    await vi.waitFor(() => expect(backend.commands.unsubscribe).toHaveBeenCalledWith("slow-a"));
    expect(tl.roomId).toBe("!b");
  });

  it("resubscribes when a diff does not fit (Rust restarts with a reset)", async () => {
    const tl = new TimelineStore();
    vi.spyOn(console, "error").mockImplementation(() => {});
    await tl.open("!a");
    backend.pushTimeline([{ op: "reset", values: [] }]);
    backend.pushTimeline([{ op: "remove", index: 5 }]);
    await vi.waitFor(() => expect(backend.commands.watchTimeline).toHaveBeenCalledTimes(2));
    expect(backend.commands.unsubscribe).toHaveBeenCalledTimes(1);
  });

  it("loads older messages 20 at a time and remembers reaching the start", async () => {
    const tl = new TimelineStore();
    await tl.open("!a");
    await tl.loadOlder();
    expect(backend.commands.paginateBack).toHaveBeenLastCalledWith("!a", 20);
    expect(tl.reachedStart).toBe(false);
    backend.commands.paginateBack.mockResolvedValueOnce(ok(true));
    await tl.loadOlder();
    expect(tl.reachedStart).toBe(true);
    await tl.loadOlder();
    expect(backend.commands.paginateBack).toHaveBeenCalledTimes(2);
  });

  it("reports a failed open", async () => {
    backend.commands.watchTimeline.mockResolvedValueOnce(err("unknown_room", "!x"));
    const onError = vi.fn();
    const tl = new TimelineStore();
    await tl.open("!x", onError);
    expect(tl.error).toEqual({ code: "unknown_room", detail: "!x" });
    expect(onError).toHaveBeenCalledWith({ code: "unknown_room", detail: "!x" });
  });
});

describe("RoomsStore", () => {
  it("is not loaded until the first batch, then mirrors the diffs", async () => {
    const rooms = new RoomsStore();
    await rooms.start();
    expect(rooms.loaded).toBe(false);
    backend.pushRooms([{ op: "reset", values: [room("!a", "Familie Jansen")] }]);
    backend.pushRooms([{ op: "insert", index: 0, value: room("!b", "Wijkteam Noord") }]);
    expect(rooms.loaded).toBe(true);
    expect(rooms.items.map((r) => r.name)).toEqual(["Wijkteam Noord", "Familie Jansen"]);
  });

  it("stop unsubscribes and forgets the rooms", async () => {
    const rooms = new RoomsStore();
    await rooms.start();
    backend.pushRooms([{ op: "reset", values: [room("!a", "A")] }]);
    await rooms.stop();
    expect(backend.commands.unsubscribe).toHaveBeenCalledWith("rooms-1");
    expect(rooms.items).toEqual([]);
    expect(rooms.loaded).toBe(false);
  });
});

describe("SyncStore", () => {
  it("follows the sync status", async () => {
    const sync = new SyncStore();
    await sync.start();
    backend.pushSync("offline");
    expect(sync.offline).toBe(true);
    backend.pushSync("running");
    expect(sync.offline).toBe(false);
  });
});

describe("SessionStore", () => {
  it("restores a stored session", async () => {
    backend.commands.restoreSession.mockResolvedValueOnce(ok(aSession));
    const s = new SessionStore();
    await s.restore();
    expect(s.phase).toBe("loggedIn");
    expect(s.info).toEqual(aSession);
  });

  it("goes to login with the reason when restoring fails", async () => {
    backend.commands.restoreSession.mockResolvedValueOnce(err("keychain_unavailable", "no secret service"));
    const s = new SessionStore();
    await s.restore();
    expect(s.phase).toBe("loggedOut");
    expect(s.notice?.code).toBe("keychain_unavailable");
  });

  it("logout clears the session", async () => {
    const s = new SessionStore();
    await s.login({ homeserver: "h", username: "u", password: "p" });
    expect(s.phase).toBe("loggedIn");
    await s.logout();
    expect(s.phase).toBe("loggedOut");
    expect(s.info).toBeNull();
  });

  it("a failed logout keeps the session", async () => {
    backend.commands.logout.mockResolvedValueOnce(err("homeserver_unreachable"));
    const s = new SessionStore();
    await s.login({ homeserver: "h", username: "u", password: "p" });
    const res = await s.logout();
    expect(res.status).toBe("error");
    expect(s.phase).toBe("loggedIn");
  });
});
