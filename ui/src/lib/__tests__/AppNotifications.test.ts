// The app as a whole for issue 6: offline use, messages that failed for good,
// clicked desktop notifications and the notification settings.
import { beforeEach, describe, expect, it, vi } from "vitest";
import { screen, within } from "@testing-library/svelte";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import type { ConversationSummary, NotificationSettings } from "$lib/ipc";
import {
  backend,
  careTeam,
  conversation,
  defaultNotificationSettings,
  err,
  message,
  ok,
  room,
  sendProblem,
} from "../../test/fakeBackend";
import { resetApp, startSignedIn as startApp } from "../../test/app";

beforeEach(resetApp);

/** Signed in with three rooms listed, the send-problem and notification streams open. */
async function startSignedIn() {
  const user = await startApp();
  await vi.waitFor(() => expect(backend.channels.sendProblems).toHaveLength(1));
  await vi.waitFor(() => expect(backend.channels.activations).toHaveLength(1));
  backend.pushRooms([{ op: "reset", values: [room("!a", "Familie Jansen"), room("!b", "Wijkteam Noord"), room("!w", "Wondzorg")] }]);
  await screen.findAllByTestId("room-item");
  return user;
}

describe("offline", () => {
  it("shows the banner, keeps the composer usable and says a queued message waits for the connection", async () => {
    const user = await startSignedIn();
    await user.click(screen.getAllByTestId("room-item")[0]!);
    backend.pushTimeline([{ op: "reset", values: [] }]);
    backend.pushSync("offline");
    expect(await screen.findByTestId("sync-banner")).toHaveTextContent(
      "Geen verbinding. Berichten worden bewaard en verstuurd zodra de verbinding terug is.",
    );

    await user.type(screen.getByTestId("composer-input"), "Tijdens de storing");
    expect(screen.getByTestId("composer-send")).toBeEnabled();
    await user.click(screen.getByTestId("composer-send"));
    expect(backend.commands.sendMessage).toHaveBeenCalledWith("!a", "Tijdens de storing", [], null, false);
    await vi.waitFor(() => expect(screen.getByTestId("composer-input")).toHaveValue(""));

    const queued = message("local-1", "Tijdens de storing", { isOwn: true, eventId: null, sendState: { state: "sending", upload: null } });
    backend.pushTimeline([{ op: "pushBack", value: queued }]);
    expect(await screen.findByTestId("send-state")).toHaveTextContent("Wacht op verbinding");

    backend.pushSync("running");
    await vi.waitFor(() => expect(screen.getByTestId("send-state")).toHaveTextContent("Wordt verstuurd…"));
    expect(screen.queryByTestId("sync-banner")).toBeNull();
  });

  it("says the same when sync stopped on an error", async () => {
    await startSignedIn();
    backend.pushSync("error");
    expect(await screen.findByTestId("sync-banner")).toHaveTextContent("Geen verbinding. Berichten worden bewaard");
  });
});

describe("a message that failed for good (send problems)", () => {
  it("tells the user where and why, and opens that conversation", async () => {
    const user = await startSignedIn();
    backend.pushSendProblem(sendProblem("!b", "Wijkteam Noord", { code: "tooLarge" }));
    const notice = await screen.findByTestId("send-problem");
    expect(notice).toHaveAttribute("role", "alert");
    expect(notice).toHaveTextContent(
      "Een bericht in ‘Wijkteam Noord’ kon niet worden verstuurd (te groot voor de server). Latere berichten worden wel verstuurd. " +
        "Het bericht staat nog in het gesprek: opnieuw proberen, bewerken of verwijderen.",
    );
    await user.click(within(notice).getByRole("button", { name: "Gesprek openen: ‘Wijkteam Noord’" }));
    expect(backend.commands.watchTimeline).toHaveBeenCalledWith("!b", expect.anything());
    expect(screen.getByTestId("timeline-title")).toHaveTextContent("Wijkteam Noord");
    expect(screen.queryByTestId("send-problem")).toBeNull();
  });

  it("can be dismissed without going anywhere; another refusal in the same conversation is one notice", async () => {
    const user = await startSignedIn();
    backend.pushSendProblem(sendProblem("!a", "Familie Jansen"));
    backend.pushSendProblem(sendProblem("!a", "Familie Jansen", { code: "forbidden" }));
    backend.pushSendProblem(sendProblem("!b", "Wijkteam Noord", { code: "rateLimited" }));
    await vi.waitFor(() => expect(screen.getAllByTestId("send-problem")).toHaveLength(2));
    const [jansen] = screen.getAllByTestId("send-problem");
    expect(jansen).toHaveTextContent("(geen toestemming in dit gesprek)");
    await user.click(within(jansen!).getByRole("button", { name: "Sluiten: melding over ‘Familie Jansen’" }));
    expect(screen.getAllByTestId("send-problem")).toHaveLength(1);
    expect(screen.getByTestId("send-problem")).toHaveTextContent("Wijkteam Noord");
    expect(backend.commands.watchTimeline).not.toHaveBeenCalled();
  });
});

describe("a send problem, once the message was dealt with", () => {
  it("goes away when the failed message is deleted in its conversation, opened from the list", async () => {
    const user = await startSignedIn();
    backend.pushSendProblem(sendProblem("!a", "Familie Jansen", { code: "tooLarge" }));
    backend.pushSendProblem(sendProblem("!b", "Wijkteam Noord"));
    await vi.waitFor(() => expect(screen.getAllByTestId("send-problem")).toHaveLength(2));
    await user.click(screen.getAllByTestId("room-item")[0]!);
    const failed = message("local-9", "Te lange overdracht", {
      isOwn: true,
      eventId: null,
      sendState: { state: "failed", code: "tooLarge", reason: "413", recoverable: false },
    });
    backend.pushTimeline([{ op: "reset", values: [failed] }]);
    // Opened from the list, not from the notice: it still says the message waits there.
    await screen.findByTestId("unsent-actions");
    expect(screen.getAllByTestId("send-problem")).toHaveLength(2);

    await user.click(screen.getByTestId("unsent-discard"));
    await user.click(screen.getByTestId("unsent-discard-yes"));
    expect(backend.commands.discardUnsent).toHaveBeenCalledWith("!a", "local-9");
    await vi.waitFor(() => expect(screen.getAllByTestId("send-problem")).toHaveLength(1));
    expect(screen.getByTestId("send-problem")).toHaveAttribute("data-room-id", "!b");
  });
});

describe("a clicked desktop notification", () => {
  it("opens its conversation", async () => {
    await startSignedIn();
    backend.pushActivation("!w");
    await vi.waitFor(() => expect(backend.commands.watchTimeline).toHaveBeenCalledWith("!w", expect.anything()));
    expect(screen.getByTestId("timeline-title")).toHaveTextContent("Wondzorg");
    expect(screen.getAllByTestId("room-item").find((r) => r.getAttribute("data-room-id") === "!w")).toHaveAttribute(
      "aria-current",
      "true",
    );
  });

  const bySpace: Record<string, ConversationSummary[]> = {
    "!jansen": [conversation("!a", "Onrustige nachten")],
    "!deboer": [conversation("!w", "Wondzorg de Boer")],
  };

  async function onClientsTab() {
    backend.commands.careTeams.mockResolvedValue(ok([careTeam("!jansen", "Mw. Jansen"), careTeam("!deboer", "Dhr. de Boer")]));
    backend.commands.conversations.mockImplementation(async (spaceId: string) => ok(bySpace[spaceId] ?? []));
    const user = await startSignedIn();
    await user.click(screen.getByTestId("tab-clients"));
    const jansen = (await screen.findAllByTestId("client-item")).find((i) => i.getAttribute("data-space-id") === "!jansen")!;
    await user.click(jansen);
    await screen.findByTestId("conversation-item");
    return user;
  }

  it("in 'Cliënten', opens the conversation within its own care team, also another client's", async () => {
    await onClientsTab();
    backend.pushActivation("!w");
    await vi.waitFor(() => expect(backend.commands.watchTimeline).toHaveBeenCalledWith("!w", expect.anything()));
    const deboer = screen.getAllByTestId("client-item").find((i) => i.getAttribute("data-space-id") === "!deboer")!;
    await vi.waitFor(() => expect(deboer).toHaveAttribute("aria-current", "true"));
    await vi.waitFor(() => expect(screen.getByTestId("timeline-title")).toHaveTextContent("Wondzorg de Boer"));
    expect(screen.getByTestId("conversation-item")).toHaveAttribute("data-room-id", "!w");
    expect(screen.getByTestId("tab-clients")).toHaveAttribute("aria-selected", "true");
  });

  it("in 'Cliënten', opens a room of no care team under 'Alle gesprekken'", async () => {
    await onClientsTab();
    backend.pushActivation("!b");
    await vi.waitFor(() => expect(backend.commands.watchTimeline).toHaveBeenCalledWith("!b", expect.anything()));
    expect(screen.getByTestId("tab-rooms")).toHaveAttribute("aria-selected", "true");
    expect(screen.getByTestId("timeline-title")).toHaveTextContent("Wijkteam Noord");
  });

  it("is no longer followed after logout", async () => {
    const user = await startSignedIn();
    await user.click(screen.getByTestId("logout"));
    await screen.findByTestId("login-form");
    expect(backend.commands.unsubscribe).toHaveBeenCalledWith("send-problems-3");
    expect(backend.commands.unsubscribe).toHaveBeenCalledWith("activations-4");
  });
});

describe("notification settings", () => {
  /** Rust keeps what was saved and answers it on the next read. */
  function rememberSettings() {
    let stored: NotificationSettings = defaultNotificationSettings;
    backend.commands.notificationSettings.mockImplementation(async () => ok(stored));
    backend.commands.setNotificationSettings.mockImplementation(async (s: NotificationSettings) => {
      stored = s;
      return ok(null);
    });
  }

  async function openSettings() {
    const user = await startSignedIn();
    const toggle = screen.getByRole("button", { name: "Meldingen" });
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    await user.click(toggle);
    expect(toggle).toHaveAttribute("aria-expanded", "true");
    await screen.findByTestId("notification-show-text");
    return user;
  }

  it("are reached from the header and show Rust's defaults, with why the text is off", async () => {
    await openSettings();
    const panel = screen.getByTestId("notification-settings");
    expect(within(panel).getByRole("heading", { name: "Meldingen op dit apparaat" })).toHaveFocus();
    const showText = within(panel).getByRole("checkbox", { name: "Berichttekst tonen in meldingen" });
    expect(showText).not.toBeChecked();
    expect(showText).toHaveAccessibleDescription(expect.stringContaining("vergrendeld scherm"));
    expect(showText).toHaveAccessibleDescription(expect.stringContaining("patiëntgegevens"));
    expect(within(panel).getByRole("spinbutton", { name: "Urgente berichten herhalen na" })).toHaveValue(2);
    expect(within(panel).getByRole("spinbutton", { name: "Urgente berichten herhalen na" })).toHaveAccessibleDescription(
      "minuten",
    );
    expect(within(panel).getByRole("spinbutton", { name: "Hoe vaak herhalen" })).toHaveValue(3);
  });

  it("round trip: saved to Rust and read back when opened again", async () => {
    rememberSettings();
    const user = await openSettings();
    await user.click(screen.getByTestId("notification-show-text"));
    await user.clear(screen.getByTestId("notification-repeat-minutes"));
    await user.type(screen.getByTestId("notification-repeat-minutes"), "5");
    await user.clear(screen.getByTestId("notification-repeat-count"));
    await user.type(screen.getByTestId("notification-repeat-count"), "1");
    await user.click(screen.getByTestId("notification-settings-save"));
    expect(backend.commands.setNotificationSettings).toHaveBeenCalledWith({
      showMessageText: true,
      repeatAfterSeconds: 300,
      repeatCount: 1,
    });
    expect(await screen.findByText("De instellingen zijn opgeslagen.")).toBeInTheDocument();

    await user.click(screen.getByTestId("notification-settings-close"));
    expect(screen.queryByTestId("notification-settings")).toBeNull();
    expect(screen.getByTestId("notification-settings-toggle")).toHaveFocus();

    await user.click(screen.getByTestId("notification-settings-toggle"));
    await vi.waitFor(() => expect(screen.getByTestId("notification-repeat-minutes")).toHaveValue(5));
    expect(screen.getByTestId("notification-show-text")).toBeChecked();
    expect(screen.getByTestId("notification-repeat-count")).toHaveValue(1);
    expect(backend.commands.notificationSettings).toHaveBeenCalledTimes(2);
  });

  it("keeps what was entered and says why when saving fails", async () => {
    backend.commands.setNotificationSettings.mockResolvedValueOnce(err("storage", "disk full"));
    const user = await openSettings();
    await user.click(screen.getByTestId("notification-show-text"));
    await user.click(screen.getByTestId("notification-settings-save"));
    expect(await screen.findByTestId("notification-settings-error")).toHaveTextContent("Kring kan de gegevens op dit apparaat niet");
    expect(screen.getByText("De instellingen zijn niet opgeslagen")).toBeInTheDocument();
    expect(screen.getByTestId("notification-show-text")).toBeChecked();
    expect(screen.queryByText("De instellingen zijn opgeslagen.")).toBeNull();
  });

  it("refuses numbers out of range, saying which", async () => {
    const user = await openSettings();
    await user.clear(screen.getByTestId("notification-repeat-minutes"));
    await user.type(screen.getByTestId("notification-repeat-minutes"), "0");
    expect(screen.getByText("Kies een heel getal van 1 tot en met 60 minuten.")).toBeInTheDocument();
    expect(screen.getByTestId("notification-repeat-minutes")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByTestId("notification-settings-save")).toBeDisabled();
    await user.clear(screen.getByTestId("notification-repeat-minutes"));
    await user.type(screen.getByTestId("notification-repeat-minutes"), "10");
    expect(screen.getByTestId("notification-settings-save")).toBeEnabled();
  });

  it("says so when they cannot be read, and closes with Escape", async () => {
    backend.commands.notificationSettings.mockResolvedValueOnce(err("not_logged_in"));
    const user = await startSignedIn();
    await user.click(screen.getByTestId("notification-settings-toggle"));
    expect(await screen.findByText("De instellingen voor meldingen konden niet worden geladen")).toBeInTheDocument();
    expect(screen.queryByTestId("notification-settings-save")).toBeNull();
    await user.keyboard("{Escape}");
    expect(screen.queryByTestId("notification-settings")).toBeNull();
    expect(screen.getByTestId("notification-settings-toggle")).toHaveFocus();
  });
});

describe("a conversation's notifications", () => {
  it("can be chosen for a room opened under 'Alle gesprekken' too", async () => {
    backend.commands.conversationNotificationMode.mockResolvedValue(ok("mute"));
    const user = await startSignedIn();
    await user.click(screen.getAllByTestId("room-item")[1]!);
    const select = await screen.findByRole("combobox", { name: "Meldingen" });
    expect(backend.commands.conversationNotificationMode).toHaveBeenCalledWith("!b");
    expect(select).toHaveValue("mute");
    await user.selectOptions(select, "all");
    expect(backend.commands.setConversationNotificationMode).toHaveBeenCalledWith("!b", "all");
  });
});
