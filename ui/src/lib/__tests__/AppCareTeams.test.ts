import { beforeEach, describe, expect, it, vi } from "vitest";
import { screen, within } from "@testing-library/svelte";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import {
  aSession,
  absence,
  backend,
  careNetwork,
  careTeam,
  conversation,
  member,
  message,
  ok,
  participant,
  room,
} from "../../test/fakeBackend";
import { resetApp, startSignedIn } from "../../test/app";

beforeEach(resetApp);

describe("navigation tabs", () => {
  it("shows 'Alle gesprekken' by default and polls care teams only on the clients tab", async () => {
    const user = await startSignedIn();
    expect(screen.getByTestId("tab-rooms")).toHaveAttribute("aria-selected", "true");
    expect(screen.getByTestId("tab-rooms")).toHaveTextContent("Alle gesprekken");
    expect(screen.getByTestId("room-list")).toBeInTheDocument();
    expect(backend.commands.careTeams).not.toHaveBeenCalled();

    await user.click(screen.getByTestId("tab-clients"));
    expect(screen.getByTestId("tab-clients")).toHaveAttribute("aria-selected", "true");
    expect(screen.getByTestId("client-list")).toBeInTheDocument();
    expect(screen.queryByTestId("room-list")).not.toBeInTheDocument();
    expect(backend.commands.careTeams).toHaveBeenCalledTimes(1);
    expect(backend.commands.careTeamInvites).toHaveBeenCalledTimes(1);

    // Arrow keys move between the tabs.
    await user.keyboard("{ArrowLeft}");
    expect(screen.getByTestId("tab-rooms")).toHaveFocus();
    expect(screen.getByTestId("room-list")).toBeInTheDocument();
  });

  it("opens on 'Cliënten' where the organisation chose that start view", async () => {
    backend.commands.startView.mockResolvedValue(ok("clients"));
    backend.commands.careTeams.mockResolvedValue(ok([careTeam("!space", "Mw. Jansen")]));
    await startSignedIn();
    expect(await screen.findByTestId("client-list")).toBeInTheDocument();
    expect(screen.getByTestId("tab-clients")).toHaveAttribute("aria-selected", "true");
    expect(await screen.findByText("Mw. Jansen")).toBeInTheDocument();
    expect(screen.queryByTestId("room-list")).not.toBeInTheDocument();
  });

  it("keeps the tab the user picked when the start view arrives later", async () => {
    let answer: (value: unknown) => void = () => {};
    backend.commands.startView.mockReturnValue(new Promise((resolve) => (answer = resolve)));
    const user = await startSignedIn();
    await user.click(screen.getByTestId("tab-clients"));
    await user.click(screen.getByTestId("tab-rooms"));
    answer(ok("clients"));
    await new Promise((r) => setTimeout(r, 0));
    expect(screen.getByTestId("tab-rooms")).toHaveAttribute("aria-selected", "true");
  });

  it("follows Rust's care-team stream while the clients tab is shown, and no longer after", async () => {
    backend.commands.careTeams.mockResolvedValue(ok([careTeam("!space", "Mw. Jansen")]));
    const user = await startSignedIn();
    await user.click(screen.getByTestId("tab-clients"));
    expect(await screen.findByText("Mw. Jansen")).toBeInTheDocument();
    expect(backend.commands.watchCareTeams).toHaveBeenCalledTimes(1);
    // A new client one sync later, with no request from the UI.
    backend.pushCareTeams([{ op: "pushBack", value: careTeam("!new", "Dhr. Bakker") }]);
    expect(await screen.findByText("Dhr. Bakker")).toBeInTheDocument();
    expect(backend.commands.careTeams).toHaveBeenCalledTimes(1);
    const before = backend.commands.unsubscribe.mock.calls.length;
    await user.click(screen.getByTestId("tab-rooms"));
    await vi.waitFor(() => expect(backend.commands.unsubscribe.mock.calls.length).toBeGreaterThanOrEqual(before + 2));
  });
});

describe("a client's conversations", () => {
  const bram = member("@bram:zorg.example", "Bram Visser", "practitioner");

  async function openClient() {
    backend.commands.careTeams.mockResolvedValue(ok([careTeam("!space", "Mw. Jansen")]));
    backend.commands.careTeamMembers.mockResolvedValue(ok([member(aSession.userId, "An de Vries", "lead"), bram]));
    backend.commands.conversations.mockResolvedValue(
      ok([
        conversation("!old", "Valpreventie", { status: "archived" }),
        conversation("!a", "Medicatie", { participants: [bram], unreadCount: 1 }),
      ]),
    );
    const user = await startSignedIn();
    backend.pushRooms([{ op: "reset", values: [room("!a", "Medicatie")] }]);
    await user.click(screen.getByTestId("tab-clients"));
    await user.click(await screen.findByTestId("client-item"));
    expect(backend.commands.conversations).toHaveBeenCalledWith("!space");
    await screen.findAllByTestId("conversation-item");
    return user;
  }

  it("opens a conversation on the right with its status, kind, participants and archive button", async () => {
    const user = await openClient();
    expect(screen.getByText("Gesprekken over Mw. Jansen")).toBeInTheDocument();
    expect(backend.commands.watchCareNetwork).toHaveBeenCalledWith("!space", expect.anything());
    const [active] = screen.getAllByTestId("conversation-item");
    await user.click(active!);
    expect(backend.commands.watchTimeline).toHaveBeenCalledWith("!a", expect.anything());
    expect(screen.getByTestId("timeline-title")).toHaveTextContent("Medicatie");
    const details = screen.getByTestId("conversation-details");
    expect(details).toHaveTextContent("Actief");
    expect(details).toHaveTextContent("Alleen professionals");
    expect(details).toHaveTextContent("Bram Visser");
    backend.pushTimeline([{ op: "reset", values: [message("m1", "Graag een review")] }]);
    expect(await screen.findByTestId("timeline-message")).toHaveTextContent("Graag een review");

    backend.commands.conversations.mockResolvedValue(
      ok([conversation("!old", "Valpreventie", { status: "archived" }), conversation("!a", "Medicatie", { status: "archived" })]),
    );
    await user.click(screen.getByTestId("archive-conversation"));
    expect(backend.commands.setConversationStatus).toHaveBeenCalledWith("!a", "archived");
    expect(await screen.findByTestId("reopen-conversation")).toBeInTheDocument();
    expect(screen.getByTestId("conversation-details")).toHaveTextContent("Gearchiveerd");
    const items = screen.getAllByTestId("conversation-item");
    expect(items.map((i) => i.getAttribute("data-status"))).toEqual(["archived", "archived"]);
  });

  it("keeps a sensitive conversation's subject out of both lists, and shows it only once opened", async () => {
    backend.commands.careTeams.mockResolvedValue(ok([careTeam("!space", "Mw. Jansen")]));
    backend.commands.careTeamMembers.mockResolvedValue(ok([member(aSession.userId, "An de Vries", "lead"), bram]));
    backend.commands.conversations.mockResolvedValue(
      ok([conversation("!s", "Vermoeden huiselijk geweld", { sensitive: true }), conversation("!a", "Medicatie")]),
    );
    const user = await startSignedIn();
    backend.pushRooms([
      {
        op: "reset",
        values: [room("!s", "Vermoeden huiselijk geweld", { sensitive: true }), room("!a", "Medicatie")],
      },
    ]);
    const rows = await screen.findAllByTestId("room-item");
    const sensitiveRow = rows.find((r) => r.getAttribute("data-room-id") === "!s")!;
    expect(sensitiveRow).toHaveTextContent("Vertrouwelijk gesprek");
    expect(screen.getByTestId("room-list")).not.toHaveTextContent("huiselijk geweld");
    expect(screen.getByTestId("room-list")).toHaveTextContent("Medicatie");

    await user.click(screen.getByTestId("tab-clients"));
    await user.click(await screen.findByTestId("client-item"));
    const items = await screen.findAllByTestId("conversation-item");
    expect(screen.getByTestId("conversation-list")).not.toHaveTextContent("huiselijk geweld");
    const item = items.find((i) => i.getAttribute("data-room-id") === "!s")!;
    expect(within(item).getByTestId("sensitive-subject")).toHaveTextContent("Vertrouwelijk gesprek");

    // Opened on purpose, the subject is there, with the mark and a way to lift it.
    await user.click(item);
    expect(screen.getByTestId("timeline-title")).toHaveTextContent("Vermoeden huiselijk geweld");
    expect(screen.getByTestId("conversation-sensitive")).toHaveTextContent("Vertrouwelijk gesprek");
    backend.commands.conversations.mockResolvedValue(
      ok([conversation("!s", "Vermoeden huiselijk geweld"), conversation("!a", "Medicatie")]),
    );
    await user.click(screen.getByTestId("toggle-sensitive"));
    expect(backend.commands.setConversationSensitive).toHaveBeenCalledWith("!s", false);
    await vi.waitFor(() => expect(screen.queryByTestId("conversation-sensitive")).not.toBeInTheDocument());
    expect(screen.getByTestId("conversation-list")).toHaveTextContent("Vermoeden huiselijk geweld");
  });

  it("starts a new conversation and opens it", async () => {
    const user = await openClient();
    await user.click(screen.getByTestId("new-conversation"));
    expect(screen.getByTestId("subject-input")).toHaveFocus();
    await user.type(screen.getByTestId("subject-input"), "Overdracht");
    await user.type(screen.getByTestId("body-input"), "Zie dossier.");
    await user.click(within(screen.getAllByTestId("recipient-option")[0]!).getByRole("checkbox"));
    backend.commands.startConversation.mockResolvedValueOnce(ok("!new"));
    await user.click(screen.getByTestId("new-conversation-submit"));
    expect(backend.commands.startConversation).toHaveBeenCalledWith({
      spaceId: "!space",
      subject: "Overdracht",
      body: "Zie dossier.",
      recipients: ["@bram:zorg.example"],
      kind: "professional",
      attachments: [],
      sensitive: false,
    });
    await vi.waitFor(() => expect(backend.commands.watchTimeline).toHaveBeenCalledWith("!new", expect.anything()));
    expect(screen.queryByTestId("subject-input")).not.toBeInTheDocument();
  });

  it("closes the open conversation when another client is chosen", async () => {
    const user = await openClient();
    await user.click(screen.getAllByTestId("conversation-item")[0]!);
    await vi.waitFor(() => expect(backend.channels.timeline).toHaveLength(1));
    backend.commands.careTeams.mockResolvedValue(ok([careTeam("!space", "Mw. Jansen"), careTeam("!other", "Dhr. Bos")]));
    await user.click(screen.getByTestId("tab-rooms"));
    await user.click(screen.getByTestId("tab-clients"));
    const other = (await screen.findAllByTestId("client-item")).find((i) => i.getAttribute("data-space-id") === "!other")!;
    await user.click(other);
    expect(backend.commands.unsubscribe).toHaveBeenCalledWith(backend.channels.timeline[0]!.id);
    expect(screen.queryByTestId("timeline")).not.toBeInTheDocument();
    expect(backend.commands.conversations).toHaveBeenLastCalledWith("!other");
  });
});

describe("a client's care network", () => {
  const year = new Date().getFullYear();
  const karim = member("@karim:brug.example", "Karim El Amrani", "practitioner");

  async function openClients() {
    backend.commands.careTeams.mockResolvedValue(ok([careTeam("!space", "Mw. Jansen"), careTeam("!other", "Dhr. Bos")]));
    backend.commands.careTeamMembers.mockResolvedValue(ok([member(aSession.userId, "An de Vries", "lead"), karim]));
    const user = await startSignedIn();
    await user.click(screen.getByTestId("tab-clients"));
    await screen.findAllByTestId("client-item");
    return user;
  }
  const client = (spaceId: string) =>
    screen.getAllByTestId("client-item").find((i) => i.getAttribute("data-space-id") === spaceId)!;

  it("follows the selected client's network; unsubscribes when the tab is left, for another client and on unmount", async () => {
    const user = await openClients();
    expect(backend.commands.watchCareNetwork).not.toHaveBeenCalled();
    await user.click(client("!space"));
    await vi.waitFor(() => expect(backend.channels.careNetwork).toHaveLength(1));
    expect(backend.channels.careNetwork[0]!.spaceId).toBe("!space");
    await user.click(screen.getByTestId("care-network-tab"));
    backend.pushCareNetwork(careNetwork("!space", [participant("@karim:brug.example", "Karim El Amrani", "practitioner")]));
    expect(await screen.findByTestId("participant")).toHaveTextContent("Karim El Amrani");

    // Another client: the old stream is closed and its late deliveries are dropped.
    await user.click(screen.getByTestId("tab-rooms"));
    expect(backend.commands.unsubscribe).toHaveBeenCalledWith(backend.channels.careNetwork[0]!.id);
    await user.click(screen.getByTestId("tab-clients"));
    await user.click(client("!other"));
    await vi.waitFor(() => expect(backend.channels.careNetwork.at(-1)!.spaceId).toBe("!other"));
    const first = backend.channels.careNetwork[0]!;
    first.channel.onmessage(careNetwork("!space", [participant("@late:x", "Te Laat", "practitioner")]));
    await user.click(screen.getByTestId("care-network-tab"));
    expect(screen.queryByText("Te Laat")).not.toBeInTheDocument();
    expect(screen.getByTestId("care-network")).toHaveAttribute("aria-busy", "true");

    const other = backend.channels.careNetwork.at(-1)!;
    user.unmount();
    expect(backend.commands.unsubscribe).toHaveBeenCalledWith(other.id);
  });

  it("flags an away recipient in the new-conversation form, from the network", async () => {
    const user = await openClients();
    await user.click(client("!space"));
    await vi.waitFor(() => expect(backend.channels.careNetwork).toHaveLength(1));
    backend.pushCareNetwork(
      careNetwork("!space", [
        participant("@karim:brug.example", "Karim El Amrani", "practitioner", {
          function: "Huisarts",
          organisation: "Huisartsenpraktijk De Brug",
          absences: [absence(`${year}-11-29`, `${year}-12-06`, "Vakantie", true)],
        }),
      ]),
    );
    await user.click(screen.getByTestId("new-conversation"));
    const option = await screen.findByTestId("recipient-option");
    expect(option).toHaveTextContent("Huisarts · Huisartsenpraktijk De Brug");
    expect(within(option).getByTestId("away-now")).toHaveTextContent("Afwezig tot 6 dec");
    await user.click(within(option).getByRole("checkbox"));
    expect(screen.getByTestId("absent-warning")).toHaveTextContent(
      "Karim El Amrani is afwezig van 29 nov tot 6 dec (Vakantie). Je bericht komt wel aan.",
    );
  });
});
