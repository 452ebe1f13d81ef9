import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import ClientList from "$lib/components/ClientList.svelte";
import ConversationList from "$lib/components/ConversationList.svelte";
import ConversationHeader from "$lib/components/ConversationHeader.svelte";
import { CareNetworkStore } from "$lib/stores/careNetwork.svelte";
import { CareTeamsStore } from "$lib/stores/careTeams.svelte";
import { ConversationsStore } from "$lib/stores/conversations.svelte";
import {
  aSession,
  backend,
  careNetwork,
  careTeam,
  conversation,
  err,
  invite,
  member,
  ok,
  participant,
} from "../../test/fakeBackend";
import { informationSystem } from "$lib/stores/informationSystem.svelte";

beforeEach(() => {
  backend.reset();
  informationSystem.forget();
});

describe("ClientList", () => {
  let store: CareTeamsStore;
  afterEach(() => store.stop());

  async function setup() {
    store = new CareTeamsStore();
    const onselect = vi.fn();
    const user = userEvent.setup();
    render(ClientList, { store, selectedSpaceId: null, onselect });
    await store.start();
    return { user, onselect };
  }

  it("lists one row per care team by client name, sorted, and searches by name", async () => {
    backend.commands.careTeams.mockResolvedValue(
      ok([careTeam("!b", "Mw. Jansen"), careTeam("!a", "Dhr. de Boer"), careTeam("!c", "Mevr. Smit")]),
    );
    const { user, onselect } = await setup();
    const items = await screen.findAllByTestId("client-item");
    expect(items.map((i) => i.getAttribute("data-space-id"))).toEqual(["!a", "!c", "!b"]);
    expect(items[0]).toHaveTextContent("Dhr. de Boer");

    await user.type(screen.getByTestId("client-search"), "jan");
    expect(screen.getAllByTestId("client-item").map((i) => i.textContent?.trim())).toEqual(["Mw. Jansen"]);
    await user.clear(screen.getByTestId("client-search"));
    await user.type(screen.getByTestId("client-search"), "xyz");
    expect(screen.queryByTestId("client-item")).not.toBeInTheDocument();
    expect(screen.getByText("Geen cliënt gevonden met „xyz”.")).toBeInTheDocument();
    await user.clear(screen.getByTestId("client-search"));

    await user.click(screen.getAllByTestId("client-item")[2]!);
    expect(onselect).toHaveBeenCalledWith(careTeam("!b", "Mw. Jansen"));
  });

  it("says what to do when there are no care teams", async () => {
    await setup();
    expect(await screen.findByTestId("client-empty")).toHaveTextContent("Maak hieronder een nieuw zorgteam aan");
  });

  it("shows invitations at the top and accepts one", async () => {
    backend.commands.careTeamInvites.mockResolvedValue(ok([invite("!new", "Mevr. Smit", "Fatima Yilmaz")]));
    backend.commands.acceptCareTeamInvite.mockResolvedValueOnce(ok(careTeam("!new", "Mevr. Smit")));
    const { user, onselect } = await setup();
    const inv = await screen.findByTestId("care-team-invite");
    expect(inv).toHaveAttribute("data-space-id", "!new");
    expect(inv).toHaveTextContent("Mevr. Smit");
    expect(inv).toHaveTextContent("Uitgenodigd door Fatima Yilmaz");
    const accept = within(inv).getByTestId("care-team-accept");
    expect(accept).toHaveTextContent("Accepteren");
    expect(accept).toHaveAccessibleName("Uitnodiging voor het zorgteam van Mevr. Smit accepteren");

    // Rust now knows the team and no longer lists the invitation.
    backend.commands.careTeams.mockResolvedValue(ok([careTeam("!new", "Mevr. Smit")]));
    backend.commands.careTeamInvites.mockResolvedValue(ok([]));
    await user.click(accept);
    expect(backend.commands.acceptCareTeamInvite).toHaveBeenCalledWith("!new");
    await vi.waitFor(() => expect(screen.queryByTestId("care-team-invite")).not.toBeInTheDocument());
    expect(screen.getByTestId("client-item")).toHaveTextContent("Mevr. Smit");
    expect(onselect).toHaveBeenCalledWith(careTeam("!new", "Mevr. Smit"));
  });

  it("keeps the invitation and says why when accepting fails", async () => {
    backend.commands.careTeamInvites.mockResolvedValue(ok([invite("!new", "Mevr. Smit", null)]));
    backend.commands.acceptCareTeamInvite.mockResolvedValueOnce(err("homeserver_unreachable", "timeout"));
    const { user } = await setup();
    const inv = await screen.findByTestId("care-team-invite");
    expect(inv).toHaveTextContent("Uitnodiging voor een zorgteam");
    await user.click(within(inv).getByTestId("care-team-accept"));
    expect(await within(inv).findByTestId("care-team-accept-error")).toHaveTextContent(
      "De server van je organisatie is nu niet bereikbaar.",
    );
    expect(screen.getByTestId("care-team-invite")).toBeInTheDocument();
  });

  it("creates a care team from the client's name and pseudo-BSN, both required", async () => {
    const { user, onselect } = await setup();
    await user.click(screen.getByTestId("new-care-team"));
    const name = screen.getByTestId("new-care-team-name");
    expect(name).toHaveFocus();
    expect(screen.getByLabelText(/Naam van de cliënt/)).toBe(name);

    // Nothing is sent while a field is empty; the name typed so far stays.
    await user.type(name, "Mw. T. Veenstra");
    await user.click(screen.getByTestId("new-care-team-submit"));
    expect(backend.commands.createCareTeam).not.toHaveBeenCalled();
    expect(screen.getByTestId("new-care-team-error")).toHaveTextContent("Vul de naam en het pseudo-BSN van de cliënt in.");
    expect(screen.getByTestId("new-care-team-bsn")).toHaveAttribute("aria-invalid", "true");

    // A failure from Rust keeps both fields.
    backend.commands.createCareTeam.mockResolvedValueOnce(err("storage", "disk full"));
    await user.type(screen.getByTestId("new-care-team-bsn"), "999999990");
    await user.click(screen.getByTestId("new-care-team-submit"));
    expect(await screen.findByTestId("new-care-team-error")).toHaveTextContent("Kring kan de gegevens op dit apparaat niet");
    expect(name).toHaveValue("Mw. T. Veenstra");
    expect(screen.getByTestId("new-care-team-bsn")).toHaveValue("999999990");

    backend.commands.createCareTeam.mockResolvedValueOnce(ok(careTeam("!vee", "Mw. T. Veenstra")));
    backend.commands.careTeams.mockResolvedValue(ok([careTeam("!vee", "Mw. T. Veenstra")]));
    await user.click(screen.getByTestId("new-care-team-submit"));
    expect(backend.commands.createCareTeam).toHaveBeenLastCalledWith({ displayName: "Mw. T. Veenstra", pseudoBsn: "999999990" });
    const item = await screen.findByTestId("client-item");
    expect(item).toHaveAttribute("data-space-id", "!vee");
    expect(item).toHaveTextContent("Mw. T. Veenstra");
    expect(screen.queryByTestId("new-care-team-name")).not.toBeInTheDocument();
    expect(screen.getByRole("status")).toHaveTextContent("Zorgteam voor Mw. T. Veenstra is aangemaakt.");
    expect(onselect).toHaveBeenCalledWith(careTeam("!vee", "Mw. T. Veenstra"));
  });

  it("marks unread urgent messages and mentions in text and sorts by needs attention", async () => {
    const hour = 3_600_000;
    const teams = [
      careTeam("!aal", "Dhr. Aalders"),
      careTeam("!bos", "Dhr. Bos", { lastActivityMs: Date.now() - 60_000 }),
      careTeam("!jan", "Mw. Jansen", { unreadCount: 1, lastActivityMs: Date.now() - 2 * hour }),
      // The oldest activity, but something urgent is unread: at the top. Rust sums the team's conversations.
      careTeam("!smit", "Mevr. Smit", { unreadCount: 3, unreadHighlights: 2, lastActivityMs: Date.now() - 3 * hour }),
    ];
    backend.commands.careTeams.mockImplementation(async () => ok(teams));
    await setup();
    await vi.waitFor(() =>
      expect(screen.getAllByTestId("client-item").map((i) => i.getAttribute("data-space-id"))).toEqual([
        "!smit", // urgent unread beats
        "!jan", // unread, which beats
        "!bos", // the most recent activity,
        "!aal", // and no activity at all comes last
      ]),
    );
    const [smit, jan, bos, aal] = screen.getAllByTestId("client-item");
    const marker = within(smit!).getByTestId("urgent-unread");
    // Not by colour alone: the icon and the word, and the count in words for a screen reader.
    expect(within(marker).getByText("Urgent")).toBeVisible();
    expect(marker.querySelector('svg[data-icon="urgent"]')).toHaveAttribute("aria-hidden", "true");
    expect(marker).toHaveTextContent("2 urgente of vermelde berichten ongelezen");
    expect(smit).toHaveAccessibleName(/Mevr\. Smit.*2 urgente of vermelde berichten ongelezen.*3 ongelezen berichten/);
    expect(jan).toHaveTextContent("1 ongelezen bericht");
    for (const row of [jan!, bos!, aal!]) expect(within(row).queryByTestId("urgent-unread")).toBeNull();
    expect(bos!.querySelector("time")).toHaveAttribute("datetime");

    // Read: no marker any more, and Smit sorts by its activity again.
    teams[3] = { ...teams[3]!, unreadCount: 0, unreadHighlights: 0 };
    await store.refresh();
    await vi.waitFor(() =>
      expect(screen.getAllByTestId("client-item").map((i) => i.getAttribute("data-space-id"))).toEqual([
        "!jan",
        "!bos",
        "!smit",
        "!aal",
      ]),
    );
    expect(screen.queryByTestId("urgent-unread")).toBeNull();
  });

  it("keeps showing the list, marked possibly out of date, when a refresh fails", async () => {
    backend.commands.careTeams.mockResolvedValueOnce(ok([careTeam("!a", "Mw. Jansen")]));
    await setup();
    await screen.findByTestId("client-item");
    backend.commands.careTeams.mockResolvedValueOnce(err("homeserver_unreachable", ""));
    await store.refresh();
    expect(await screen.findByText("Wat hier staat is mogelijk niet actueel.")).toBeInTheDocument();
    expect(screen.getByTestId("client-item")).toHaveTextContent("Mw. Jansen");
  });
});

describe("ConversationList", () => {
  let store: ConversationsStore;
  let network: CareNetworkStore;
  afterEach(async () => {
    store.close();
    await network.close();
  });

  async function setup() {
    store = new ConversationsStore();
    network = new CareNetworkStore();
    const onselect = vi.fn();
    const user = userEvent.setup();
    render(ConversationList, {
      store,
      network,
      clientName: "Mw. Jansen",
      ownUserId: aSession.userId,
      selectedRoomId: null,
      onselect,
      onnew: vi.fn(),
      onback: vi.fn(),
    });
    await store.open("!space");
    await network.open("!space");
    return { user, onselect };
  }

  const bram = member("@bram:zorg.example", "Bram Visser", "practitioner");
  const henk = member("@henk:zorg.example", "Henk Jansen", "related_person");

  it("shows archived conversations last, greyed and labelled in text", async () => {
    backend.commands.conversations.mockResolvedValue(
      ok([
        conversation("!old", "Valpreventie", { status: "archived", lastActivityMs: Date.now() }),
        conversation("!a", "Medicatie", { lastActivityMs: Date.now() - 60_000, unreadCount: 2, participants: [bram, henk] }),
        conversation("!b", "Wondzorg", { kind: "client_inclusive", lastActivityMs: Date.now() - 3_600_000 }),
      ]),
    );
    await setup();
    const items = await screen.findAllByTestId("conversation-item");
    expect(items.map((i) => [i.getAttribute("data-room-id"), i.getAttribute("data-status")])).toEqual([
      ["!a", "active"],
      ["!b", "active"],
      ["!old", "archived"],
    ]);
    expect(items[2]).toHaveTextContent("Gearchiveerd");
    expect(items[2]).toHaveClass("archived");
    expect(items[0]).not.toHaveTextContent("Gearchiveerd");
    expect(items[0]).toHaveTextContent("Alleen professionals");
    expect(items[1]).toHaveTextContent("Met cliënt");
    expect(items[0]).toHaveTextContent("2 ongelezen berichten");
    expect(items[0]).toHaveTextContent("Bram Visser");
    expect(items[0]).toHaveTextContent("Zorgverlener");
    expect(items[0]).toHaveTextContent("Naaste");
    expect(items[0]!.querySelector("time")).toHaveAttribute("datetime");
  });

  it("marks unread urgent messages and mentions in text and puts them first", async () => {
    const hour = 3_600_000;
    backend.commands.conversations.mockResolvedValue(
      ok([
        conversation("!recent", "Wondzorg", { lastActivityMs: Date.now() }),
        conversation("!unread", "Medicatie", { unreadCount: 3, lastActivityMs: Date.now() - hour }),
        conversation("!urgent", "Valpreventie", { unreadCount: 1, unreadHighlights: 1, lastActivityMs: Date.now() - 2 * hour }),
        conversation("!arch", "Oud", { status: "archived", unreadCount: 1, unreadHighlights: 1, lastActivityMs: Date.now() }),
      ]),
    );
    await setup();
    const items = await screen.findAllByTestId("conversation-item");
    // Urgent beats unread beats recent; archived stays at the bottom, marked all the same.
    expect(items.map((i) => i.getAttribute("data-room-id"))).toEqual(["!urgent", "!unread", "!recent", "!arch"]);
    const marker = within(items[0]!).getByTestId("urgent-unread");
    expect(within(marker).getByText("Urgent")).toBeVisible();
    expect(marker.querySelector('svg[data-icon="urgent"]')).toHaveAttribute("aria-hidden", "true");
    expect(marker).toHaveTextContent("1 urgent of vermeld bericht ongelezen");
    expect(marker).toHaveAttribute("data-count", "1");
    expect(items[0]).toHaveAccessibleName(/1 urgent of vermeld bericht ongelezen/);
    expect(within(items[3]!).getByTestId("urgent-unread")).toBeInTheDocument();
    expect(within(items[1]!).queryByTestId("urgent-unread")).toBeNull();
    expect(within(items[2]!).queryByTestId("urgent-unread")).toBeNull();
  });

  it("offers 'Deelnemen' for an invitation and opens the conversation after joining", async () => {
    backend.commands.conversations.mockResolvedValue(ok([conversation("!inv", "Bezoek huisarts", { joined: false })]));
    const { user, onselect } = await setup();
    const item = await screen.findByTestId("conversation-item");
    expect(item.tagName).not.toBe("BUTTON");
    const join = within(item).getByTestId("conversation-join");
    expect(join).toHaveTextContent("Deelnemen");
    backend.commands.conversations.mockResolvedValue(ok([conversation("!inv", "Bezoek huisarts")]));
    await user.click(join);
    expect(backend.commands.joinConversation).toHaveBeenCalledWith("!inv");
    await vi.waitFor(() => expect(onselect).toHaveBeenCalledWith("!inv"));
    expect(screen.queryByTestId("conversation-join")).not.toBeInTheDocument();
    expect(screen.getByTestId("conversation-item").tagName).toBe("BUTTON");
  });

  it("opens a joined conversation when its row is chosen", async () => {
    backend.commands.conversations.mockResolvedValue(ok([conversation("!a", "Medicatie")]));
    const { user, onselect } = await setup();
    await user.click(await screen.findByTestId("conversation-item"));
    expect(onselect).toHaveBeenCalledWith("!a");
  });

  it("goes back to the conversations when one is opened from the care-network tab", async () => {
    backend.commands.conversations.mockResolvedValue(ok([conversation("!new", "Medicatiereview")]));
    store = new ConversationsStore();
    network = new CareNetworkStore();
    const props = {
      store, network, clientName: "Mw. Jansen", ownUserId: aSession.userId, selectedRoomId: null as string | null,
      onselect: vi.fn(), onnew: vi.fn(), onback: vi.fn(),
    };
    const view = render(ConversationList, props);
    await store.open("!space");
    await network.open("!space");
    await userEvent.setup().click(screen.getByTestId("care-network-tab"));
    expect(screen.queryByTestId("conversation-list")).not.toBeInTheDocument();
    await view.rerender({ ...props, selectedRoomId: "!new" });
    expect(screen.getByTestId("conversations-tab")).toHaveAttribute("aria-selected", "true");
    expect(await screen.findByTestId("conversation-item")).toHaveTextContent("Medicatiereview");
  });

  it("shows the care team in the care-network tab with Dutch role names", async () => {
    const { user } = await setup();
    expect(screen.getByTestId("conversations-tab")).toHaveAttribute("aria-selected", "true");
    expect(screen.queryByTestId("care-network")).not.toBeInTheDocument();
    await user.click(screen.getByTestId("care-network-tab"));
    expect(screen.getByTestId("care-network-tab")).toHaveAttribute("aria-selected", "true");
    expect(screen.queryByTestId("conversation-list")).not.toBeInTheDocument();
    backend.pushCareNetwork(
      careNetwork("!space", [
        participant(aSession.userId, "An de Vries", "lead"),
        participant("@sara:zorg.example", "Sara Bakker", "senior"),
        participant("@bram:zorg.example", "Bram Visser", "practitioner"),
        participant("@henk:zorg.example", "Henk Jansen", "related_person"),
        participant("@jansen:zorg.example", "Mw. Jansen", "client", { joined: false }),
      ]),
    );
    const panel = screen.getByTestId("care-network");
    await vi.waitFor(() => expect(within(panel).getAllByTestId("participant")).toHaveLength(5));
    const rows = Object.fromEntries(
      within(panel).getAllByTestId("participant").map((m) => [m.getAttribute("data-user-id"), m.textContent]),
    );
    expect(rows[aSession.userId]).toContain("Hoofdbehandelaar");
    expect(rows[aSession.userId]).toContain("jij");
    expect(rows["@sara:zorg.example"]).toContain("Senior");
    expect(rows["@bram:zorg.example"]).toContain("Zorgverlener");
    expect(rows["@henk:zorg.example"]).toContain("Naaste");
    expect(rows["@jansen:zorg.example"]).toContain("Cliënt");
    expect(rows["@jansen:zorg.example"]).toContain("uitgenodigd");

    // Arrow keys move between the two views.
    await user.keyboard("{ArrowLeft}");
    expect(screen.getByTestId("conversations-tab")).toHaveFocus();
    expect(screen.getByTestId("conversation-list")).toBeInTheDocument();
  });

  it("invites by Matrix ID only under the folded manual option", async () => {
    backend.commands.careTeamMembers.mockResolvedValue(ok([member(aSession.userId, "An de Vries", "lead")]));
    const { user } = await setup();
    await user.click(screen.getByTestId("care-network-tab"));
    backend.pushCareNetwork(careNetwork("!space", [participant(aSession.userId, "An de Vries", "lead")]));
    const toggle = await screen.findByTestId("invite-manual-toggle");
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    expect(toggle).toHaveTextContent("Handmatig (Matrix-ID)");
    expect(screen.queryByTestId("invite-user")).not.toBeInTheDocument();
    await user.click(toggle);
    expect(toggle).toHaveAttribute("aria-expanded", "true");
    expect(screen.getByTestId("invite-user")).toHaveFocus();

    expect(screen.getByTestId("invite-submit")).toBeDisabled();
    await user.type(screen.getByTestId("invite-user"), "@huisarts:andere.example");
    await user.selectOptions(screen.getByTestId("invite-role"), "senior");
    backend.commands.inviteToCareTeam.mockResolvedValueOnce(err("not_permitted", "power level"));
    await user.click(screen.getByTestId("invite-submit"));
    expect(backend.commands.inviteToCareTeam).toHaveBeenCalledWith("!space", "@huisarts:andere.example", "senior");
    expect(await screen.findByTestId("invite-error")).toHaveTextContent("Je rol in dit zorgteam staat dit niet toe.");
    expect(screen.getByTestId("invite-user")).toHaveValue("@huisarts:andere.example");

    await user.click(screen.getByTestId("invite-submit"));
    await vi.waitFor(() => expect(screen.getByTestId("invite-user")).toHaveValue(""));
    expect(screen.getByText("@huisarts:andere.example is uitgenodigd als Senior.")).toBeInTheDocument();
    expect(screen.queryByTestId("invite-error")).not.toBeInTheDocument();
    // The network is read again so the newcomer shows at once.
    expect(backend.commands.refreshCareNetwork).toHaveBeenCalledWith("!space");

    // A related person gets their relation recorded with the invitation.
    await user.type(screen.getByTestId("invite-user"), "@dochter:familie.example");
    await user.selectOptions(screen.getByTestId("invite-role"), "related_person");
    await user.type(screen.getByTestId("invite-relation"), "Dochter, mantelzorger");
    await user.click(screen.getByTestId("invite-submit"));
    await vi.waitFor(() =>
      expect(backend.commands.setRelation).toHaveBeenCalledWith("!space", "@dochter:familie.example", "Dochter, mantelzorger"),
    );
    expect(backend.commands.inviteToCareTeam).toHaveBeenLastCalledWith("!space", "@dochter:familie.example", "related_person");
  });
});

describe("ConversationHeader", () => {
  let store: ConversationsStore;
  afterEach(() => store.close());

  it("archives an active conversation and reopens an archived one", async () => {
    store = new ConversationsStore();
    await store.open("!space");
    const user = userEvent.setup();
    const view = render(ConversationHeader, { store, conversation: conversation("!a", "Medicatie") });
    expect(screen.getByTestId("conversation-status")).toHaveTextContent("Actief");
    expect(screen.queryByTestId("reopen-conversation")).not.toBeInTheDocument();
    await user.click(screen.getByTestId("archive-conversation"));
    expect(backend.commands.setConversationStatus).toHaveBeenCalledWith("!a", "archived");

    await view.rerender({ store, conversation: conversation("!a", "Medicatie", { status: "archived" }) });
    expect(screen.getByTestId("conversation-status")).toHaveTextContent("Gearchiveerd");
    await user.click(screen.getByTestId("reopen-conversation"));
    expect(backend.commands.setConversationStatus).toHaveBeenLastCalledWith("!a", "active");
  });

  it("offers the ECD only where the installation names one", async () => {
    store = new ConversationsStore();
    render(ConversationHeader, { store, conversation: conversation("!a", "Medicatie") });
    await vi.waitFor(() => expect(backend.commands.informationSystem).toHaveBeenCalled());
    expect(screen.queryByTestId("archive-to-ecd")).not.toBeInTheDocument();
  });

  it("archives at the ECD and says what went there", async () => {
    store = new ConversationsStore();
    backend.commands.informationSystem.mockResolvedValue(ok("https://ecd.example/fhir"));
    backend.commands.archiveToInformationSystem.mockResolvedValueOnce(
      ok({ roomId: "!a", messages: 4, files: 6, resources: 17, undecryptable: 2 }),
    );
    const user = userEvent.setup();
    render(ConversationHeader, { store, conversation: conversation("!a", "Medicatie") });
    await user.click(await screen.findByTestId("archive-to-ecd"));
    expect(backend.commands.archiveToInformationSystem).toHaveBeenCalledWith("!a");
    const done = await screen.findByTestId("archive-to-ecd-done");
    expect(done).toHaveTextContent("In het ECD gearchiveerd: 4 berichten, 6 bijlagen.");
    expect(done).toHaveTextContent("2 berichten kon dit apparaat niet ontsleutelen");
  });

  it("shows an ECD that is away as readable text, and can try again", async () => {
    store = new ConversationsStore();
    backend.commands.informationSystem.mockResolvedValue(ok("https://ecd.example/fhir"));
    backend.commands.archiveToInformationSystem.mockResolvedValueOnce(
      err("archive_endpoint_unreachable", "connection refused"),
    );
    const user = userEvent.setup();
    render(ConversationHeader, { store, conversation: conversation("!a", "Medicatie") });
    await user.click(await screen.findByTestId("archive-to-ecd"));
    expect(await screen.findByTestId("archive-to-ecd-error")).toHaveTextContent(
      "Het ECD van je organisatie is niet bereikbaar.",
    );
    await user.click(screen.getByTestId("archive-to-ecd"));
    expect(await screen.findByTestId("archive-to-ecd-done")).toBeInTheDocument();
    expect(screen.queryByTestId("archive-to-ecd-error")).not.toBeInTheDocument();
  });

  it("marks a conversation sensitive, and says so readably when the role does not allow it", async () => {
    store = new ConversationsStore();
    backend.commands.setConversationSensitive.mockResolvedValueOnce(err("not_permitted", "M_FORBIDDEN"));
    const user = userEvent.setup();
    render(ConversationHeader, { store, conversation: conversation("!a", "Medicatie") });
    expect(screen.queryByTestId("conversation-sensitive")).not.toBeInTheDocument();
    const toggle = screen.getByTestId("toggle-sensitive");
    expect(toggle).toHaveAttribute("aria-pressed", "false");
    await user.click(toggle);
    expect(backend.commands.setConversationSensitive).toHaveBeenCalledWith("!a", true);
    expect(await screen.findByTestId("conversation-sensitive-error")).toHaveTextContent(
      "Je rol in dit zorgteam staat dit niet toe.",
    );
    await user.click(toggle);
    await vi.waitFor(() => expect(screen.queryByTestId("conversation-sensitive-error")).not.toBeInTheDocument());
  });

  it("shows not_permitted as readable text", async () => {
    store = new ConversationsStore();
    backend.commands.setConversationStatus.mockResolvedValueOnce(err("not_permitted", "M_FORBIDDEN"));
    const user = userEvent.setup();
    render(ConversationHeader, { store, conversation: conversation("!a", "Medicatie") });
    await user.click(screen.getByTestId("archive-conversation"));
    expect(await screen.findByTestId("conversation-status-error")).toHaveTextContent(
      "Je rol in dit zorgteam staat dit niet toe.",
    );
    expect(screen.getByTestId("archive-conversation")).toBeEnabled();
  });
});
