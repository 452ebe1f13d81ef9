import { beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import App from "../../App.svelte";
import { aSession, anOnboarded, backend, err, message, ok, onboardingUntil, room } from "../../test/fakeBackend";
import { resetApp, startSignedIn } from "../../test/app";

beforeEach(resetApp);

describe("start", () => {
  it("asks Rust for a stored session first and skips login when there is one", async () => {
    await startSignedIn();
    expect(backend.commands.restoreSession).toHaveBeenCalledTimes(1);
    expect(screen.queryByTestId("login-form")).not.toBeInTheDocument();
    expect(screen.getByTestId("user-id")).toHaveTextContent("@an.verpleegkundige:zorg.example");
  });

  it("shows the login form when there is no stored session, and the main view after login", async () => {
    const user = userEvent.setup();
    render(App);
    expect(await screen.findByTestId("login-form")).toBeInTheDocument();
    await user.type(screen.getByTestId("login-homeserver"), "https://matrix.zorg.example");
    await user.type(screen.getByTestId("login-username"), "an");
    await user.type(screen.getByTestId("login-password"), "pw");
    await user.click(screen.getByTestId("login-submit"));
    expect(await screen.findByTestId("main-view")).toBeInTheDocument();
    expect(backend.commands.watchRooms).toHaveBeenCalledTimes(1);
    expect(backend.commands.watchSync).toHaveBeenCalledTimes(1);
  });
});

describe("first login through the organisation", () => {
  it("walks through the wizard, then shows the main view of the onboarded session", async () => {
    backend.commands.loginOptions.mockResolvedValue(ok({ organisationLogin: true, idpName: "Aurora Login", relatedPersonLogin: null }));
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId("org-login"));
    expect(await screen.findByTestId("first-login")).toBeInTheDocument();
    await vi.waitFor(() => expect(backend.channels.onboarding).toHaveLength(1));
    backend.pushProgress(...onboardingUntil());
    await vi.waitFor(() => expect(screen.getByTestId("step-ready")).toHaveAttribute("data-state", "done"));
    backend.finishFirstLogin(ok(anOnboarded));

    expect(await screen.findByTestId("main-view")).toBeInTheDocument();
    expect(screen.queryByTestId("first-login")).not.toBeInTheDocument();
    expect(screen.getByTestId("user-id")).toHaveTextContent(aSession.userId);
    expect(backend.commands.watchRooms).toHaveBeenCalledTimes(1);
    expect(backend.commands.login).not.toHaveBeenCalled();
  });
});

describe("room list", () => {
  it("shows skeletons until the first batch, then the rooms from the diffs", async () => {
    await startSignedIn();
    const list = screen.getByTestId("room-list");
    expect(within(list).getByText("Gesprekken worden geladen…")).toBeInTheDocument();
    expect(screen.queryByTestId("room-item")).not.toBeInTheDocument();
    expect(screen.queryByTestId("room-empty")).not.toBeInTheDocument();

    backend.pushRooms([
      {
        op: "reset",
        values: [
          room("!a", "Familie Jansen", { unreadCount: 3, lastActivityMs: Date.now() }),
          room("!b", "Wijkteam Noord"),
        ],
      },
    ]);
    let items = await screen.findAllByTestId("room-item");
    expect(items.map((i) => i.getAttribute("data-room-id"))).toEqual(["!a", "!b"]);
    expect(items[0]).toHaveTextContent("Familie Jansen");
    expect(items[0]).toHaveTextContent("3 ongelezen berichten");
    expect(items[1]).not.toHaveTextContent("ongelezen");

    backend.pushRooms([
      { op: "pushFront", value: room("!c", "Dhr. de Boer") },
      { op: "set", index: 1, value: room("!a", "Familie Jansen", { unreadCount: 0 }) },
      { op: "remove", index: 2 },
    ]);
    await vi.waitFor(() => expect(screen.getAllByTestId("room-item")).toHaveLength(2));
    items = screen.getAllByTestId("room-item");
    expect(items.map((i) => i.textContent)).toEqual([
      expect.stringContaining("Dhr. de Boer"),
      expect.stringContaining("Familie Jansen"),
    ]);
    expect(items[1]).not.toHaveTextContent("ongelezen");
  });

  it("marks unread urgent messages and mentions, and puts them first, then unread, then Rust's order", async () => {
    await startSignedIn();
    backend.pushRooms([
      {
        op: "reset",
        values: [
          room("!recent", "Wijkteam Noord", { lastActivityMs: Date.now() }),
          room("!unread", "Dhr. de Boer", { unreadCount: 1, lastActivityMs: Date.now() - 60_000 }),
          room("!quiet", "Mw. Smit"),
          room("!urgent", "Familie Jansen", { unreadCount: 2, unreadHighlights: 2, lastActivityMs: Date.now() - 120_000 }),
        ],
      },
    ]);
    await vi.waitFor(() => expect(screen.getAllByTestId("room-item")).toHaveLength(4));
    const items = screen.getAllByTestId("room-item");
    expect(items.map((i) => i.getAttribute("data-room-id"))).toEqual(["!urgent", "!unread", "!recent", "!quiet"]);
    const marker = within(items[0]!).getByTestId("urgent-unread");
    expect(within(marker).getByText("Urgent")).toBeVisible();
    expect(marker).toHaveTextContent("2 urgente of vermelde berichten ongelezen");
    for (const row of items.slice(1)) expect(within(row).queryByTestId("urgent-unread")).toBeNull();

    backend.pushRooms([{ op: "set", index: 3, value: room("!urgent", "Familie Jansen", { lastActivityMs: Date.now() - 120_000 }) }]);
    await vi.waitFor(() => expect(screen.queryByTestId("urgent-unread")).toBeNull());
    // Read: among the rooms with nothing unread, where Rust has it.
    expect(screen.getAllByTestId("room-item").map((i) => i.getAttribute("data-room-id"))).toEqual([
      "!unread",
      "!recent",
      "!quiet",
      "!urgent",
    ]);
  });

  it("shows the empty state when Rust sends no rooms", async () => {
    await startSignedIn();
    backend.pushRooms([{ op: "reset", values: [] }]);
    expect(await screen.findByTestId("room-empty")).toHaveTextContent("Je hebt nog geen gesprekken");
    backend.pushRooms([{ op: "pushBack", value: room("!a", "Familie Jansen") }]);
    expect(await screen.findByTestId("room-item")).toBeInTheDocument();
    expect(screen.queryByTestId("room-empty")).not.toBeInTheDocument();
  });

  it("moves between rooms with the arrow keys", async () => {
    const user = await startSignedIn();
    backend.pushRooms([{ op: "reset", values: [room("!a", "A"), room("!b", "B"), room("!c", "C")] }]);
    const items = await screen.findAllByTestId("room-item");
    items[0]!.focus();
    await user.keyboard("{ArrowDown}");
    expect(items[1]).toHaveFocus();
    await user.keyboard("{End}");
    expect(items[2]).toHaveFocus();
    await user.keyboard("{Enter}");
    expect(backend.commands.watchTimeline).toHaveBeenCalledWith("!c", expect.anything());
  });
});

describe("room", () => {
  it("opens the timeline of the selected room and unsubscribes the old one on switching", async () => {
    const user = await startSignedIn();
    backend.pushRooms([{ op: "reset", values: [room("!a", "Familie Jansen"), room("!b", "Wijkteam Noord")] }]);
    const [a, b] = await screen.findAllByTestId("room-item");

    await user.click(a!);
    expect(backend.commands.watchTimeline).toHaveBeenCalledWith("!a", expect.anything());
    expect(screen.getByTestId("timeline-title")).toHaveTextContent("Familie Jansen");
    expect(a).toHaveAttribute("aria-current", "true");
    backend.pushTimeline([{ op: "reset", values: [message("m1", "Goedemorgen")] }]);
    expect(await screen.findByTestId("timeline-message")).toHaveTextContent("Goedemorgen");

    await vi.waitFor(() => expect(backend.channels.timeline).toHaveLength(1));
    const oldId = backend.channels.timeline[0]!.id;
    await user.click(b!);
    expect(backend.commands.unsubscribe).toHaveBeenCalledWith(oldId);
    expect(backend.commands.watchTimeline).toHaveBeenLastCalledWith("!b", expect.anything());
    expect(screen.getByTestId("timeline-title")).toHaveTextContent("Wijkteam Noord");
    expect(screen.queryByTestId("timeline-message")).not.toBeInTheDocument();
  });

  it("shows Rust's local echo, never its own, after sending", async () => {
    const user = await startSignedIn();
    backend.pushRooms([{ op: "reset", values: [room("!a", "Familie Jansen")] }]);
    await user.click(await screen.findByTestId("room-item"));
    backend.pushTimeline([{ op: "reset", values: [] }]);

    await user.type(screen.getByTestId("composer-input"), "Ik kom om 3 uur");
    await user.click(screen.getByTestId("composer-send"));
    expect(backend.commands.sendMessage).toHaveBeenCalledWith("!a", "Ik kom om 3 uur", [], null, false);
    await vi.waitFor(() => expect(screen.getByTestId("composer-input")).toHaveValue(""));
    expect(screen.queryByTestId("timeline-message")).not.toBeInTheDocument();

    backend.pushTimeline([
      { op: "pushBack", value: message("local-1", "Ik kom om 3 uur", { isOwn: true, eventId: null, sendState: { state: "sending", upload: null } }) },
    ]);
    const msg = await screen.findByTestId("timeline-message");
    expect(msg).toHaveAttribute("data-send-state", "sending");
    backend.pushTimeline([{ op: "set", index: 0, value: message("local-1", "Ik kom om 3 uur", { isOwn: true }) }]);
    await vi.waitFor(() => expect(screen.getByTestId("timeline-message")).toHaveAttribute("data-send-state", "sent"));
  });

  it("'load older' asks Rust for 20 more events", async () => {
    const user = await startSignedIn();
    backend.pushRooms([{ op: "reset", values: [room("!a", "Familie Jansen")] }]);
    await user.click(await screen.findByTestId("room-item"));
    backend.pushTimeline([{ op: "reset", values: [message("m1", "hallo")] }]);
    backend.commands.paginateBack.mockResolvedValueOnce(ok(true));
    await user.click(await screen.findByTestId("load-older"));
    expect(backend.commands.paginateBack).toHaveBeenCalledWith("!a", 20);
    await vi.waitFor(() => expect(screen.queryByTestId("load-older")).not.toBeInTheDocument());
  });

  it("on a phone-sized layout the back button closes the room", async () => {
    const user = await startSignedIn();
    backend.pushRooms([{ op: "reset", values: [room("!a", "Familie Jansen")] }]);
    await user.click(await screen.findByTestId("room-item"));
    await vi.waitFor(() => expect(backend.channels.timeline).toHaveLength(1));
    expect(screen.getByTestId("main-view")).toHaveClass("has-room");
    await user.click(screen.getByRole("button", { name: "Terug naar gesprekken" }));
    expect(screen.getByTestId("main-view")).not.toHaveClass("has-room");
    expect(backend.commands.unsubscribe).toHaveBeenCalledWith(backend.channels.timeline[0]!.id);
    expect(screen.getByTestId("room-item")).toHaveFocus();
  });
});

describe("sync, logout and lost sessions", () => {
  it("shows the offline banner while sync is offline or failing", async () => {
    await startSignedIn();
    await vi.waitFor(() => expect(backend.channels.sync).toHaveLength(1));
    expect(screen.queryByTestId("sync-banner")).not.toBeInTheDocument();
    backend.pushSync("offline");
    expect(await screen.findByTestId("sync-banner")).toHaveTextContent(
      "Geen verbinding. Berichten worden bewaard en verstuurd zodra de verbinding terug is.",
    );
    backend.pushSync("running");
    await vi.waitFor(() => expect(screen.queryByTestId("sync-banner")).not.toBeInTheDocument());
    backend.pushSync("error");
    expect(await screen.findByTestId("sync-banner")).toBeInTheDocument();
  });

  it("logout returns to the login form and ends the streams", async () => {
    const user = await startSignedIn();
    await user.click(screen.getByTestId("logout"));
    expect(backend.commands.logout).toHaveBeenCalledTimes(1);
    expect(await screen.findByTestId("login-form")).toBeInTheDocument();
    await vi.waitFor(() => expect(backend.commands.unsubscribe).toHaveBeenCalledWith("rooms-1"));
    expect(backend.commands.unsubscribe).toHaveBeenCalledWith("sync-2");
  });

  it("a failed logout stays signed in and says why", async () => {
    backend.commands.logout.mockResolvedValueOnce(err("homeserver_unreachable", "timeout"));
    const user = await startSignedIn();
    await user.click(screen.getByTestId("logout"));
    expect(await screen.findByText("Uitloggen is niet gelukt")).toBeInTheDocument();
    expect(screen.getByTestId("main-view")).toBeInTheDocument();
  });

  it("goes back to login with an explanation when Rust says the session is lost", async () => {
    backend.commands.watchTimeline.mockResolvedValueOnce(err("session_lost", "M_UNKNOWN_TOKEN"));
    const user = await startSignedIn();
    backend.pushRooms([{ op: "reset", values: [room("!a", "Familie Jansen")] }]);
    await user.click(await screen.findByTestId("room-item"));
    expect(await screen.findByTestId("login-form")).toBeInTheDocument();
    expect(screen.getByTestId("login-error")).toHaveTextContent("Je sessie is verlopen");
  });

  it("switches the whole UI to English", async () => {
    const user = await startSignedIn();
    await user.selectOptions(screen.getByLabelText("Taal"), "en");
    expect(screen.getByTestId("logout")).toHaveTextContent("Sign out");
    expect(document.documentElement.lang).toBe("en");
    await user.selectOptions(screen.getByLabelText("Language"), "nl");
    expect(screen.getByTestId("logout")).toHaveTextContent("Uitloggen");
  });
});
