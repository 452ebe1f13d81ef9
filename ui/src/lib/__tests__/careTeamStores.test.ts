import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import { CareTeamsStore, sortCareTeams } from "$lib/stores/careTeams.svelte";
import { ConversationsStore, sortConversations } from "$lib/stores/conversations.svelte";
import { Poller } from "$lib/stores/poll";
import { backend, careTeam, conversation, err, invite, ok } from "../../test/fakeBackend";

beforeEach(() => backend.reset());
afterEach(() => vi.useRealTimers());

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("Poller", () => {
  it("runs at once, then every interval, and never twice at the same time", async () => {
    vi.useFakeTimers();
    const gate = deferred<void>();
    const run = vi.fn(() => gate.promise);
    const poller = new Poller(run, 1000);
    void poller.start();
    expect(run).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(3000);
    // The first run is still under way: the ticks queue one more, not three.
    expect(run).toHaveBeenCalledTimes(1);
    gate.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(run).toHaveBeenCalledTimes(2);
    poller.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(run).toHaveBeenCalledTimes(2);
  });

  it("skips ticks while the page is hidden", async () => {
    vi.useFakeTimers();
    const run = vi.fn(async () => {});
    const poller = new Poller(run, 1000);
    await poller.start();
    const spy = vi.spyOn(document, "visibilityState", "get").mockReturnValue("hidden");
    await vi.advanceTimersByTimeAsync(3000);
    expect(run).toHaveBeenCalledTimes(1);
    spy.mockReturnValue("visible");
    document.dispatchEvent(new Event("visibilitychange"));
    await vi.advanceTimersByTimeAsync(0);
    expect(run).toHaveBeenCalledTimes(2);
    poller.stop();
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
