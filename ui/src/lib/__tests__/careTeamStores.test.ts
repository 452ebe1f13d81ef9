import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import { CareTeamsStore, sortCareTeams } from "$lib/stores/careTeams.svelte";
import { ConversationsStore, sortConversations } from "$lib/stores/conversations.svelte";
import { backend, careTeam, conversation, err, invite, ok } from "../../test/fakeBackend";

beforeEach(() => backend.reset());
afterEach(() => vi.useRealTimers());

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("the care-team streams", () => {
  it("start with Rust's reset, apply its diffs sorted, and stop following on pause", async () => {
    backend.commands.careTeams.mockResolvedValue(ok([careTeam("!b", "Zeeman")]));
    backend.commands.careTeamInvites.mockResolvedValue(ok([invite("!c", "Smit")]));
    const store = new CareTeamsStore();
    await store.start();
    expect(store.loaded).toBe(true);
    expect(store.teams.map((t) => t.clientName)).toEqual(["Zeeman"]);
    expect(store.invites.map((i) => i.spaceId)).toEqual(["!c"]);
    // The invite was accepted elsewhere: one sync later both lists say so.
    backend.pushCareTeams([{ op: "pushBack", value: careTeam("!c", "Smit") }]);
    backend.pushCareTeamInvites([{ op: "remove", index: 0 }]);
    expect(store.teams.map((t) => t.clientName)).toEqual(["Smit", "Zeeman"]);
    expect(store.invites).toEqual([]);
    backend.pushCareTeams([{ op: "set", index: 0, value: careTeam("!b", "Zeeman", { unreadCount: 3 }) }]);
    expect(store.teams.map((t) => t.clientName)).toEqual(["Zeeman", "Smit"]);
    // No poller: nothing is asked again while nothing changes.
    expect(backend.commands.careTeams).toHaveBeenCalledTimes(1);
    store.pause();
    expect(backend.commands.unsubscribe).toHaveBeenCalledTimes(2);
    expect(store.teams).toHaveLength(2);
  });

  it("shows a team an action made at once, and once when the stream brings it", async () => {
    const store = new CareTeamsStore();
    await store.start();
    const made = await store.create({ displayName: "Mw. de Groot", pseudoBsn: "900000001" });
    expect(made.status).toBe("ok");
    const id = made.status === "ok" ? made.data.spaceId : "";
    expect(store.teams.map((t) => t.spaceId)).toEqual([id]);
    backend.pushCareTeams([{ op: "reset", values: [] }]); // a batch from before the create
    expect(store.teams.map((t) => t.spaceId)).toEqual([id]);
    backend.pushCareTeams([{ op: "pushBack", value: careTeam(id, "Mw. de Groot") }]);
    expect(store.teams.map((t) => t.spaceId)).toEqual([id]);
  });

  it("subscribes again when a batch does not fit", async () => {
    backend.commands.careTeams.mockResolvedValue(ok([careTeam("!a", "Aalders")]));
    const store = new CareTeamsStore();
    await store.start();
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    backend.pushCareTeams([{ op: "remove", index: 7 }]);
    await vi.waitFor(() => expect(backend.commands.watchCareTeams).toHaveBeenCalledTimes(2));
    expect(store.teams.map((t) => t.spaceId)).toEqual(["!a"]);
    error.mockRestore();
  });
});

describe("the conversation streams", () => {
  it("follow the selected care team's conversations and members, and only its own", async () => {
    backend.commands.conversations.mockImplementation(async (spaceId: string) =>
      ok([conversation(`!in-${spaceId}`, "Wondzorg")]),
    );
    const store = new ConversationsStore();
    await store.open("!a");
    expect(store.items.map((c) => c.roomId)).toEqual(["!in-!a"]);
    backend.pushConversations("!a", [{ op: "pushBack", value: conversation("!new", "Medicatie", { unreadCount: 1 }) }]);
    expect(store.items.map((c) => c.roomId)).toEqual(["!new", "!in-!a"]);
    backend.pushMembers("!a", [{ op: "reset", values: [] }]);
    expect(store.membersLoaded).toBe(true);
    await store.open("!b");
    expect(store.items.map((c) => c.roomId)).toEqual(["!in-!b"]);
    // A late batch for the team left behind changes nothing.
    backend.channels.conversations[0].channel.onmessage([{ op: "clear" }]);
    expect(store.items.map((c) => c.roomId)).toEqual(["!in-!b"]);
    store.close();
  });
});

describe("CareTeamsStore", () => {
  it("sorts teams by name and hides invitations to teams already joined", async () => {
    backend.commands.careTeams.mockResolvedValue(ok([careTeam("!b", "Zeeman"), careTeam("!a", "de Boer")]));
    backend.commands.careTeamInvites.mockResolvedValue(ok([invite("!a", "de Boer"), invite("!c", "Smit")]));
    const store = new CareTeamsStore();
    await store.refresh();
    expect(store.teams.map((t) => t.clientName)).toEqual(["de Boer", "Zeeman"]);
    expect(store.invites.map((i) => i.spaceId)).toEqual(["!c"]);
    expect(store.loaded).toBe(true);
    expect(sortCareTeams([careTeam("1", "Émile"), careTeam("2", "Eva")]).map((t) => t.clientName)).toEqual([
      "Émile",
      "Eva",
    ]);
  });

  it("sorts by needs attention, then by name", () => {
    const teams = [
      careTeam("!a", "Aalders", { lastActivityMs: 100 }),
      careTeam("!b", "Bos", { unreadCount: 4, lastActivityMs: 300 }),
      careTeam("!c", "Claes", { unreadCount: 1, unreadHighlights: 1, lastActivityMs: 10 }),
      careTeam("!d", "Dekker", { lastActivityMs: 200 }),
      careTeam("!e", "Eck"),
    ];
    // Highlights beat unread beat recent; unknown activity last, then by name.
    expect(sortCareTeams(teams).map((t) => t.spaceId)).toEqual(["!c", "!b", "!d", "!a", "!e"]);
  });

  it("sorts on the counts Rust sends with each team, without reading its conversations", async () => {
    backend.commands.careTeams.mockResolvedValue(
      ok([careTeam("!a", "Aalders"), careTeam("!b", "Bos", { unreadCount: 6, unreadHighlights: 2, lastActivityMs: 80 })]),
    );
    const store = new CareTeamsStore();
    await store.refresh();
    expect(store.teams.map((t) => t.spaceId)).toEqual(["!b", "!a"]);
    expect(backend.commands.conversations).not.toHaveBeenCalled();
  });

  it("keeps the last list and reports a failed refresh; session errors reach onError", async () => {
    backend.commands.careTeams.mockResolvedValueOnce(ok([careTeam("!a", "Jansen")]));
    const onError = vi.fn();
    const store = new CareTeamsStore();
    await store.start(onError);
    backend.commands.careTeams.mockResolvedValueOnce(err("session_lost", "M_UNKNOWN_TOKEN"));
    await store.refresh();
    expect(store.teams).toHaveLength(1);
    expect(store.error?.code).toBe("session_lost");
    expect(onError).toHaveBeenCalledWith({ code: "session_lost", detail: "M_UNKNOWN_TOKEN" });
    store.stop();
    expect(store.teams).toEqual([]);
    expect(store.loaded).toBe(false);
  });

  it("drops an answer that arrives after stop", async () => {
    const slow = deferred<ReturnType<typeof ok>>();
    backend.commands.careTeams.mockReturnValueOnce(slow.promise);
    const store = new CareTeamsStore();
    const refreshing = store.refresh();
    store.stop();
    slow.resolve(ok([careTeam("!a", "Jansen")]));
    await refreshing;
    expect(store.teams).toEqual([]);
    expect(store.loaded).toBe(false);
  });
});

describe("ConversationsStore", () => {
  it("sorts archived conversations last, most recent first within each", () => {
    const sorted = sortConversations([
      conversation("!arch-new", "a", { status: "archived", lastActivityMs: 300 }),
      conversation("!none", "b", { lastActivityMs: null }),
      conversation("!old", "c", { lastActivityMs: 100 }),
      conversation("!new", "d", { lastActivityMs: 200 }),
      conversation("!arch-old", "e", { status: "archived", lastActivityMs: 50 }),
    ]);
    expect(sorted.map((c) => c.roomId)).toEqual(["!new", "!old", "!none", "!arch-new", "!arch-old"]);
  });

  it("sorts by needs attention within active and within archived: highlights, then unread, then recent", () => {
    const sorted = sortConversations([
      conversation("!recent", "a", { lastActivityMs: 300 }),
      conversation("!arch-urgent", "b", { status: "archived", unreadCount: 1, unreadHighlights: 1, lastActivityMs: 10 }),
      conversation("!unread", "c", { unreadCount: 5, lastActivityMs: 200 }),
      conversation("!arch-recent", "d", { status: "archived", lastActivityMs: 400 }),
      conversation("!urgent", "e", { unreadCount: 1, unreadHighlights: 1, lastActivityMs: 100 }),
      conversation("!urgent-new", "f", { unreadCount: 2, unreadHighlights: 2, lastActivityMs: 150 }),
    ]);
    expect(sorted.map((c) => c.roomId)).toEqual(["!urgent-new", "!urgent", "!unread", "!recent", "!arch-urgent", "!arch-recent"]);
  });

  it("drops the answer for a care team that is no longer selected", async () => {
    const slow = deferred<ReturnType<typeof ok>>();
    backend.commands.conversations.mockImplementation(async (spaceId: string) =>
      spaceId === "!a" ? slow.promise : ok([conversation("!in-b", "B")]),
    );
    const store = new ConversationsStore();
    const openingA = store.open("!a");
    await store.open("!b");
    slow.resolve(ok([conversation("!in-a", "A")]));
    await openingA;
    await vi.waitFor(() => expect(store.items.map((c) => c.roomId)).toEqual(["!in-b"]));
    expect(store.spaceId).toBe("!b");
    store.close();
    expect(store.items).toEqual([]);
    expect(store.spaceId).toBeNull();
  });

  it("reads the list again after an action, and not after a refused one", async () => {
    const store = new ConversationsStore();
    await store.open("!space");
    expect(backend.commands.conversations).toHaveBeenCalledTimes(1);
    await store.setStatus("!a", "archived");
    expect(backend.commands.conversations).toHaveBeenCalledTimes(2);
    backend.commands.joinConversation.mockResolvedValueOnce(err("not_permitted", ""));
    const res = await store.join("!b");
    expect(res.status).toBe("error");
    expect(backend.commands.conversations).toHaveBeenCalledTimes(2);
    store.close();
  });
});
