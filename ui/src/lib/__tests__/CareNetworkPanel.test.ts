import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import CareNetworkPanel from "$lib/components/CareNetworkPanel.svelte";
import type { CareNetwork, Result, AppError, Role } from "$lib/ipc";
import { i18n } from "$lib/i18n/index.svelte";
import { CareNetworkStore } from "$lib/stores/careNetwork.svelte";
import { ConversationsStore } from "$lib/stores/conversations.svelte";
import {
  aSession,
  absence,
  backend,
  careNetwork,
  directoryHit,
  err,
  member,
  ok,
  participant,
  pendingEmailInvite,
} from "../../test/fakeBackend";

const me = aSession.userId;
// Dates in the current year show without the year ("6 dec").
const year = new Date().getFullYear();
const day = (monthDay: string) => `${year}-${monthDay}`;

function theNetwork(ownRole: Role = "lead"): CareNetwork {
  return careNetwork("!space", [
    participant("@henk:zorg.example", "Henk Jansen", "related_person", { relation: "Zoon, mantelzorger" }),
    participant("@karim:brug.example", "Karim El Amrani", "practitioner", {
      function: "Huisarts",
      organisation: "Huisartsenpraktijk De Brug",
      absences: [absence(day("11-29"), day("12-06"), "Vakantie", true), absence(day("12-20"), day("12-24"))],
    }),
    participant(me, "An de Vries", ownRole, { function: "Wijkverpleegkundige", organisation: "Thuiszorg Aurora" }),
    participant("@jansen:zorg.example", "Mw. Jansen", "client", { joined: false }),
    participant("@fatima:zorg.example", "Fatima Yilmaz", "practitioner", {
      function: "Verzorgende IG",
      organisation: "Thuiszorg Aurora",
      absences: [absence(`${day("12-15")}T08:00:00+01:00`, `${day("12-19")}T17:00:00+01:00`, "Scholing")],
    }),
    participant("@sanne:zorg.example", "Sanne Visser", "senior", {
      absences: [absence(`${day("12-01")}T00:00:00+01:00`, null, null, true)],
    }),
    participant("@els:zorg.example", "Els Jansen", "related_person"),
  ]);
}

let store: ConversationsStore;
let network: CareNetworkStore;

beforeEach(() => {
  backend.reset();
  store = new ConversationsStore();
  network = new CareNetworkStore();
});

afterEach(async () => {
  store.close();
  await network.close();
});

async function setup() {
  const user = userEvent.setup();
  const view = render(CareNetworkPanel, { network, store, clientName: "Mw. Jansen", ownUserId: me });
  await store.open("!space");
  await network.open("!space");
  return { user, view };
}

function row(userId: string): HTMLElement {
  const found = screen.getAllByTestId("participant").find((p) => p.getAttribute("data-user-id") === userId);
  if (!found) throw new Error(`no participant row for ${userId}`);
  return found;
}

describe("CareNetworkPanel: who is involved", () => {
  it("shows skeletons until the network arrives", async () => {
    await setup();
    expect(screen.getByText("Het zorgnetwerk wordt geladen…")).toBeInTheDocument();
    expect(screen.queryByTestId("participant")).not.toBeInTheDocument();
    expect(backend.commands.watchCareNetwork).toHaveBeenCalledWith("!space", expect.anything());
  });

  it("shows function · organisation for practitioners, the relation for related persons and 'Cliënt' for the client", async () => {
    await setup();
    backend.pushCareNetwork(theNetwork());
    await screen.findAllByTestId("participant");

    // The client, then practitioners, then related persons; the away stay in their place.
    expect(screen.getAllByTestId("participant").map((p) => p.getAttribute("data-user-id"))).toEqual([
      "@jansen:zorg.example",
      me,
      "@fatima:zorg.example",
      "@karim:brug.example",
      "@sanne:zorg.example",
      "@els:zorg.example",
      "@henk:zorg.example",
    ]);

    const karim = row("@karim:brug.example");
    expect(within(karim).getByTestId("participant-description")).toHaveTextContent("Huisarts · Huisartsenpraktijk De Brug");
    expect(within(karim).getByTestId("participant-role")).toHaveTextContent("Zorgverlener");
    expect(within(row(me)).getByTestId("participant-description")).toHaveTextContent("Wijkverpleegkundige · Thuiszorg Aurora");
    expect(row(me)).toHaveTextContent("(jij)");
    expect(row(me)).toHaveTextContent("Hoofdbehandelaar");

    const henk = row("@henk:zorg.example");
    expect(within(henk).getByTestId("participant-description")).toHaveTextContent("Zoon, mantelzorger");
    expect(within(henk).getByTestId("participant-role")).toHaveTextContent("Naaste");
    // Without a recorded relation, the role name stands in for it (and is not said twice).
    const els = row("@els:zorg.example");
    expect(within(els).getByTestId("participant-description")).toHaveTextContent("Naaste");
    expect(within(els).queryByTestId("participant-role")).not.toBeInTheDocument();

    const client = row("@jansen:zorg.example");
    expect(within(client).getByTestId("participant-description")).toHaveTextContent("Cliënt");
    expect(client).toHaveTextContent("uitgenodigd");
  });

  it("marks who is away now with an icon and words, and lists every absence in Dutch dates", async () => {
    await setup();
    backend.pushCareNetwork(theNetwork());
    await screen.findAllByTestId("participant");

    const karim = row("@karim:brug.example");
    expect(karim).toHaveAttribute("data-away", "true");
    const badge = within(karim).getByTestId("away-now");
    expect(badge).toHaveTextContent("Afwezig tot 6 dec");
    expect(badge.querySelector('svg[data-icon="away"][aria-hidden="true"]')).not.toBeNull();
    expect(within(karim).getAllByTestId("absence").map((a) => a.textContent?.replace(/\s+/g, " ").trim())).toEqual([
      "29 nov – 6 dec (Vakantie) — nu",
      "20 dec – 24 dec",
    ]);

    // A planned absence is listed, but nobody is marked away for it.
    const fatima = row("@fatima:zorg.example");
    expect(fatima).toHaveAttribute("data-away", "false");
    expect(within(fatima).queryByTestId("away-now")).not.toBeInTheDocument();
    expect(within(fatima).getByTestId("absence")).toHaveTextContent("15 dec – 19 dec (Scholing)");

    // Open-ended: "Afwezig", from the day it started.
    const sanne = row("@sanne:zorg.example");
    expect(within(sanne).getByTestId("away-now")).toHaveTextContent(/^\s*Afwezig\s*$/);
    expect(within(sanne).getByTestId("absence")).toHaveTextContent("vanaf 1 dec");
    expect(row(me)).toHaveAttribute("data-away", "false");
  });

  it("updates live when a second network arrives on the channel", async () => {
    await setup();
    backend.pushCareNetwork(theNetwork());
    await screen.findAllByTestId("participant");
    expect(within(row("@fatima:zorg.example")).queryByTestId("away-now")).not.toBeInTheDocument();

    const next = theNetwork();
    next.participants = next.participants
      .filter((p) => p.userId !== "@els:zorg.example")
      .map((p) =>
        p.userId === "@fatima:zorg.example"
          ? { ...p, awayNow: true, absences: [absence(day("12-15"), day("12-19"), "Ziek", true)] }
          : p,
      );
    backend.pushCareNetwork(next);
    await vi.waitFor(() => expect(row("@fatima:zorg.example")).toHaveAttribute("data-away", "true"));
    expect(within(row("@fatima:zorg.example")).getByTestId("away-now")).toHaveTextContent("Afwezig tot 19 dec");
    expect(screen.queryByText("Els Jansen")).not.toBeInTheDocument();
  });

  it("shows the care team's retention in its largest whole unit, and says when there is none", async () => {
    await setup();
    backend.pushCareNetwork({ ...theNetwork(), retentionSeconds: 20 * 365 * 24 * 3600 });
    expect(await screen.findByTestId("care-network-retention")).toHaveTextContent("Bewaartermijn: 20 jaar");
    backend.pushCareNetwork({ ...theNetwork(), retentionSeconds: 90 * 24 * 3600 });
    await vi.waitFor(() => expect(screen.getByTestId("care-network-retention")).toHaveTextContent("90 dagen"));
    backend.pushCareNetwork({ ...theNetwork(), retentionSeconds: 6 });
    await vi.waitFor(() => expect(screen.getByTestId("care-network-retention")).toHaveTextContent("6 seconden"));
    backend.pushCareNetwork(theNetwork());
    await vi.waitFor(() =>
      expect(screen.getByTestId("care-network-retention")).toHaveTextContent("geen (bewaard tot iemand het verwijdert)"),
    );
  });

  it("says what to do when the network is empty", async () => {
    backend.commands.careTeamMembers.mockResolvedValue(ok([member(me, "An de Vries", "lead")]));
    await setup();
    backend.pushCareNetwork(careNetwork("!space", []));
    expect(await screen.findByTestId("care-network-empty")).toHaveTextContent(
      "Zoek hieronder een zorgverlener in het adresboek om toe te voegen.",
    );
  });

  it("shows why the network could not be opened", async () => {
    backend.commands.watchCareNetwork.mockResolvedValueOnce(err("not_a_care_team", "!space"));
    await setup();
    expect(await screen.findByTestId("care-network-error")).toHaveTextContent("Dit is geen zorgteam op dit apparaat.");
    expect(screen.queryByText("Het zorgnetwerk wordt geladen…")).not.toBeInTheDocument();
  });
});

describe("CareNetworkPanel: an unreachable directory", () => {
  const checked = `${year - 1}-03-03T13:05:00Z`; // 14:05 in Amsterdam

  function staleNetwork(directories: string[]): CareNetwork {
    const n = theNetwork();
    return {
      ...n,
      stale: true,
      unreachableDirectories: directories,
      participants: n.participants.map((p) =>
        p.userId === "@karim:brug.example" ? { ...p, stale: true, checkedAt: checked } : { ...p, checkedAt: new Date().toISOString() },
      ),
    };
  }

  it("keeps the data and says it is possibly out of date, which directory failed and since when", async () => {
    await setup();
    backend.pushCareNetwork(staleNetwork(["https://mcsd.brug.example/fhir/"]));
    const banner = await screen.findByTestId("care-network-stale");
    expect(banner).toHaveTextContent(
      `Mogelijk verouderd: mcsd.brug.example was niet bereikbaar. Laatst bijgewerkt 3 mrt ${year - 1} 14:05.`,
    );
    expect(banner.closest('[role="status"]')).not.toBeNull();
    // Nothing is hidden; the one whose data is old is marked too.
    expect(screen.getAllByTestId("participant")).toHaveLength(7);
    expect(within(row("@karim:brug.example")).getByTestId("participant-stale")).toHaveTextContent("mogelijk verouderd");
    expect(within(row("@karim:brug.example")).getByTestId("away-now")).toHaveTextContent("Afwezig tot 6 dec");
    expect(within(row("@fatima:zorg.example")).queryByTestId("participant-stale")).not.toBeInTheDocument();
  });

  it("names every directory that failed", async () => {
    await setup();
    backend.pushCareNetwork(staleNetwork(["https://mcsd.brug.example/fhir/", "https://dir.linde.example:8443/r4/"]));
    expect(await screen.findByTestId("care-network-stale")).toHaveTextContent(
      "Mogelijk verouderd: mcsd.brug.example en dir.linde.example:8443 waren niet bereikbaar.",
    );
  });

  it("refreshes on request: busy while it runs, then shows the answer", async () => {
    const { user } = await setup();
    backend.pushCareNetwork(staleNetwork(["https://mcsd.brug.example/fhir/"]));
    await screen.findByTestId("care-network-stale");

    let answer!: (r: Result<CareNetwork, AppError>) => void;
    backend.commands.refreshCareNetwork.mockImplementationOnce(() => new Promise((r) => (answer = r)));
    const refresh = screen.getByTestId("care-network-refresh");
    expect(refresh).toHaveTextContent("Vernieuwen");
    await user.click(refresh);
    expect(backend.commands.refreshCareNetwork).toHaveBeenCalledWith("!space");
    expect(refresh).toBeDisabled();
    expect(refresh).toHaveTextContent("Bezig met vernieuwen…");

    answer(ok(theNetwork()));
    await vi.waitFor(() => expect(screen.queryByTestId("care-network-stale")).not.toBeInTheDocument());
    expect(refresh).toBeEnabled();
    expect(refresh).toHaveTextContent("Vernieuwen");
    expect(within(row("@karim:brug.example")).queryByTestId("participant-stale")).not.toBeInTheDocument();
  });

  it("keeps what is shown when a refresh fails", async () => {
    const { user } = await setup();
    backend.pushCareNetwork(theNetwork());
    await screen.findAllByTestId("participant");
    backend.commands.refreshCareNetwork.mockResolvedValueOnce(err("homeserver_unreachable", "timeout"));
    await user.click(screen.getByTestId("care-network-refresh"));
    expect(await screen.findByTestId("care-network-refresh-error")).toHaveTextContent(
      "De server van je organisatie is nu niet bereikbaar.",
    );
    expect(screen.getAllByTestId("participant")).toHaveLength(7);
  });
});

describe("CareNetworkPanel: adding someone from the directory", () => {
  const hits = [
    directoryHit("Karim El Amrani", {
      function: "Huisarts",
      organisation: "Huisartsenpraktijk De Brug",
      userId: "@karim:brug.example",
      absences: [absence(day("11-29"), day("12-06"), "Vakantie", true)],
    }),
    directoryHit("Pieter Bos", { function: "Apotheker", organisation: "Apotheek Centrum" }),
    directoryHit("Fatima Yilmaz", { function: "Verzorgende IG", organisation: "Thuiszorg Aurora", userId: "@fatima:zorg.example" }),
  ];

  async function searchAs(role: Role) {
    const n = theNetwork(role);
    n.participants = n.participants.filter((p) => p.userId !== "@karim:brug.example");
    const ctx = await setup();
    backend.pushCareNetwork(n);
    await screen.findAllByTestId("participant");
    return ctx;
  }

  function hit(name: string): HTMLElement {
    const found = screen.getAllByTestId("directory-hit").find((h) => h.textContent?.includes(name));
    if (!found) throw new Error(`no hit for ${name}`);
    return found;
  }

  it("searches by name, role and organisation and invites a hit with its user id as practitioner", async () => {
    const { user } = await searchAs("lead");
    const form = screen.getByTestId("directory-search");
    expect(within(form).getByLabelText("Naam")).toBeInTheDocument();
    expect(within(form).getByLabelText("Functie")).toBeInTheDocument();
    expect(within(form).getByLabelText("Organisatie")).toBeInTheDocument();
    // No Matrix ID field in sight.
    expect(screen.queryByTestId("invite-user")).not.toBeInTheDocument();

    // An empty search asks for something to search for.
    await user.click(within(form).getByTestId("directory-search-submit"));
    expect(screen.getByTestId("directory-query-missing")).toHaveTextContent("Vul een naam, functie of organisatie in.");
    expect(backend.commands.searchDirectory).not.toHaveBeenCalled();

    backend.commands.searchDirectory.mockResolvedValueOnce(ok(hits));
    await user.type(within(form).getByLabelText("Naam"), "  Karim ");
    await user.type(within(form).getByLabelText("Organisatie"), "Brug{Enter}");
    expect(backend.commands.searchDirectory).toHaveBeenCalledWith({ name: "Karim", role: null, organisation: "Brug" });
    await screen.findAllByTestId("directory-hit");
    expect(screen.getByText("3 personen gevonden")).toBeInTheDocument();

    const karim = hit("Karim El Amrani");
    expect(karim).toHaveTextContent("Huisarts · Huisartsenpraktijk De Brug");
    expect(within(karim).getByTestId("away-now")).toHaveTextContent("Afwezig tot 6 dec");
    const role = within(karim).getByTestId("directory-role") as HTMLSelectElement;
    expect(role).toHaveAccessibleName("Rol van Karim El Amrani in het zorgteam");
    expect(role).toHaveValue("practitioner");
    // Someone from a directory is a professional: no client or related-person role.
    expect(Array.from(role.options).map((o) => o.value)).toEqual(["practitioner", "senior", "lead"]);

    const invite = within(karim).getByTestId("directory-invite");
    expect(invite).toHaveAccessibleName("Karim El Amrani toevoegen aan het zorgteam");
    // Rust reads the network again after the invitation; Karim is in it, invited.
    const after = theNetwork();
    after.participants = after.participants.map((p) =>
      p.userId === "@karim:brug.example" ? { ...p, joined: false } : p,
    );
    backend.commands.refreshCareNetwork.mockResolvedValueOnce(ok(after));
    await user.click(invite);
    expect(backend.commands.inviteToCareTeam).toHaveBeenCalledWith("!space", "@karim:brug.example", "practitioner");
    expect(await within(karim).findByRole("status")).toHaveTextContent("Karim El Amrani is uitgenodigd als Zorgverlener.");
    expect(within(karim).queryByTestId("directory-invite")).not.toBeInTheDocument();
    expect(backend.commands.refreshCareNetwork).toHaveBeenCalledWith("!space");
    await vi.waitFor(() => expect(row("@karim:brug.example")).toHaveTextContent("uitgenodigd"));
  });

  it("offers no invite for a hit without a chat account, nor for someone already in the team", async () => {
    const { user } = await searchAs("lead");
    backend.commands.searchDirectory.mockResolvedValueOnce(ok(hits));
    await user.type(screen.getByLabelText("Functie"), "a");
    await user.click(screen.getByTestId("directory-search-submit"));
    await screen.findAllByTestId("directory-hit");

    const pieter = hit("Pieter Bos");
    expect(pieter).toHaveTextContent("Nog geen chat-account bij Apotheek Centrum");
    expect(within(pieter).queryByTestId("directory-invite")).not.toBeInTheDocument();
    expect(within(pieter).queryByRole("combobox")).not.toBeInTheDocument();

    const fatima = hit("Fatima Yilmaz");
    expect(fatima).toHaveTextContent("Zit al in het zorgteam");
    expect(within(fatima).queryByTestId("directory-invite")).not.toBeInTheDocument();
  });

  it("offers a senior only the roles up to senior, and sends the one chosen", async () => {
    const { user } = await searchAs("senior");
    backend.commands.searchDirectory.mockResolvedValueOnce(ok(hits));
    await user.type(screen.getByLabelText("Naam"), "Karim{Enter}");
    const karim = await vi.waitFor(() => hit("Karim El Amrani"));
    const role = within(karim).getByTestId("directory-role") as HTMLSelectElement;
    expect(Array.from(role.options).map((o) => o.value)).toEqual(["practitioner", "senior"]);
    await user.selectOptions(role, "senior");
    backend.commands.inviteToCareTeam.mockResolvedValueOnce(err("not_permitted", "M_FORBIDDEN"));
    await user.click(within(karim).getByTestId("directory-invite"));
    expect(backend.commands.inviteToCareTeam).toHaveBeenCalledWith("!space", "@karim:brug.example", "senior");
    expect(await within(karim).findByTestId("directory-invite-error")).toHaveTextContent(
      "Je rol in dit zorgteam staat dit niet toe.",
    );
    expect(within(karim).getByTestId("directory-invite")).toBeEnabled();
  });

  it("says when nobody was found, and when the directory cannot be searched", async () => {
    const { user } = await searchAs("lead");
    await user.type(screen.getByLabelText("Naam"), "Niemand{Enter}");
    expect(await screen.findByTestId("directory-no-hits")).toHaveTextContent("Niemand gevonden.");
    backend.commands.searchDirectory.mockResolvedValueOnce(err("directory_unreachable", "timeout"));
    await user.click(screen.getByTestId("directory-search-submit"));
    expect(await screen.findByTestId("directory-error")).toHaveTextContent(
      "Het adresboek van je organisatie is nu niet bereikbaar.",
    );
    // No directory to search on this installation: say so in these words, not the login's.
    backend.commands.searchDirectory.mockResolvedValueOnce(err("onboarding_not_configured", "no directories"));
    await user.click(screen.getByTestId("directory-search-submit"));
    await vi.waitFor(() =>
      expect(screen.getByTestId("directory-error")).toHaveTextContent("Op dit apparaat is geen zorgadresboek ingesteld"),
    );
  });

  it("tells a practitioner who may add people, and offers no search", async () => {
    await searchAs("practitioner");
    expect(screen.queryByTestId("directory-search")).not.toBeInTheDocument();
    expect(screen.queryByTestId("invite-manual-toggle")).not.toBeInTheDocument();
    expect(screen.getByTestId("add-not-permitted")).toHaveTextContent(
      "Alleen een senior of de hoofdbehandelaar kan iemand aan dit zorgteam toevoegen.",
    );
    expect(screen.queryByTestId("relation-edit")).not.toBeInTheDocument();
  });
});

describe("CareNetworkPanel: a related person's relation", () => {
  it("is changed in place and shown at once", async () => {
    const { user } = await setup();
    backend.pushCareNetwork(theNetwork());
    await screen.findAllByTestId("participant");
    const henk = row("@henk:zorg.example");
    const edit = within(henk).getByTestId("relation-edit");
    expect(edit).toHaveAccessibleName("Relatie van Henk Jansen aanpassen");
    // Only related persons have a relation.
    expect(within(row("@karim:brug.example")).queryByTestId("relation-edit")).not.toBeInTheDocument();

    await user.click(edit);
    const input = within(henk).getByTestId("relation-input");
    expect(input).toHaveFocus();
    expect(input).toHaveValue("Zoon, mantelzorger");
    expect(input).toHaveAccessibleName("Relatie tot de cliënt");
    await user.clear(input);
    await user.type(input, "Zoon, wettelijk vertegenwoordiger");
    await user.click(within(henk).getByTestId("relation-save"));
    expect(backend.commands.setRelation).toHaveBeenCalledWith("!space", "@henk:zorg.example", "Zoon, wettelijk vertegenwoordiger");
    await vi.waitFor(() =>
      expect(within(row("@henk:zorg.example")).getByTestId("participant-description")).toHaveTextContent(
        "Zoon, wettelijk vertegenwoordiger",
      ),
    );
    expect(within(row("@henk:zorg.example")).getByTestId("relation-edit")).toHaveFocus();
  });
});

describe("CareNetworkPanel: verified by the organisation", () => {
  it("marks only practitioners whose organisation vouched for them, and says nothing about the others", async () => {
    await setup();
    const n = theNetwork();
    n.participants = n.participants.map((p) => (p.userId === "@karim:brug.example" ? { ...p, verified: true } : p));
    backend.pushCareNetwork(n);
    await screen.findAllByTestId("participant");

    const badge = within(row("@karim:brug.example")).getByTestId("verified-badge");
    expect(badge).toHaveTextContent("Geverifieerd door de organisatie");
    expect(badge).toHaveAttribute("title", expect.stringContaining("identiteitsdienst van de organisatie"));
    expect(badge.querySelector('svg[data-icon="check"][aria-hidden="true"]')).not.toBeNull();
    expect(screen.getAllByTestId("verified-badge")).toHaveLength(1);
    // No alarming words for the unverified.
    const fatima = row("@fatima:zorg.example");
    expect(within(fatima).queryByTestId("verified-badge")).not.toBeInTheDocument();
    expect(fatima).not.toHaveTextContent(/verifi/i);
  });

  it("says it in English too", async () => {
    i18n.locale = "en";
    try {
      await setup();
      const n = theNetwork();
      n.participants = n.participants.map((p) => (p.userId === "@karim:brug.example" ? { ...p, verified: true } : p));
      backend.pushCareNetwork(n);
      expect(await screen.findByTestId("verified-badge")).toHaveTextContent("Verified by the organisation");
    } finally {
      i18n.locale = "nl";
    }
  });
});

describe("CareNetworkPanel: invites by e-mail", () => {
  async function asRole(role: Role, network = theNetwork(role)) {
    const ctx = await setup();
    backend.pushCareNetwork(network);
    await screen.findAllByTestId("participant");
    return ctx;
  }

  async function openForm(user: ReturnType<typeof userEvent.setup>) {
    const toggle = screen.getByTestId("email-invite-toggle");
    expect(toggle).toHaveTextContent("Uitnodigen per e-mail");
    await user.click(toggle);
    const form = screen.getByTestId("email-invite");
    expect(within(form).getByTestId("email-invite-address")).toHaveFocus();
    return form;
  }

  it("lists invites not taken up yet under 'Uitgenodigd per e-mail', with role and relation", async () => {
    const n = theNetwork();
    n.pendingEmailInvites = [
      pendingEmailInvite("j...@example.org", "related_person", "Dochter, mantelzorger"),
      pendingEmailInvite("m...@example.org", "client"),
    ];
    await asRole("lead", n);
    const section = screen.getByTestId("pending-email-invites");
    expect(within(section).getByRole("heading")).toHaveTextContent("Uitgenodigd per e-mail");
    const invites = within(section).getAllByTestId("pending-email-invite");
    expect(invites.map((i) => i.textContent?.replace(/\s+/g, " ").trim())).toEqual([
      "j...@example.org Naaste · Dochter, mantelzorger",
      "m...@example.org Cliënt",
    ]);
    expect(invites[1]).toHaveAttribute("data-role", "client");
  });

  it("shows no pending section when there are none", async () => {
    await asRole("lead");
    expect(screen.queryByTestId("pending-email-invites")).not.toBeInTheDocument();
  });

  it("mails an invitation with address, role and relation, says the mail does not name the client, then clears the form", async () => {
    const { user } = await asRole("lead");
    const form = await openForm(user);
    const role = within(form).getByTestId("email-invite-role") as HTMLSelectElement;
    expect(role).toHaveAccessibleName("Rol");
    expect(Array.from(role.options).map((o) => o.textContent?.trim())).toEqual(["Naaste", "Cliënt"]);
    expect(role).toHaveValue("related_person");

    await user.type(within(form).getByLabelText("E-mailadres"), " els.jansen@example.org ");
    await user.type(within(form).getByLabelText("Relatie tot de cliënt (optioneel)"), "Dochter, mantelzorger");
    const after = theNetwork();
    after.pendingEmailInvites = [pendingEmailInvite("e...@example.org", "related_person", "Dochter, mantelzorger")];
    backend.commands.refreshCareNetwork.mockResolvedValueOnce(ok(after));
    await user.click(within(form).getByTestId("email-invite-submit"));

    expect(backend.commands.inviteByEmail).toHaveBeenCalledWith(
      "!space",
      "els.jansen@example.org",
      "related_person",
      "Dochter, mantelzorger",
    );
    const done = await within(form).findByTestId("email-invite-done");
    expect(done).toHaveTextContent("De uitnodiging is gemaild naar els.jansen@example.org.");
    expect(done).toHaveTextContent("De mail noemt de cliënt niet");
    expect(within(form).getByTestId("email-invite-address")).toHaveValue("");
    expect(within(form).getByTestId("email-invite-relation")).toHaveValue("");
    // Read again at once, so the invite shows as pending.
    expect(backend.commands.refreshCareNetwork).toHaveBeenCalledWith("!space");
    expect(await screen.findByTestId("pending-email-invite")).toHaveTextContent("e...@example.org");
  });

  it("invites the client without a relation", async () => {
    const { user } = await asRole("senior");
    const form = await openForm(user);
    await user.selectOptions(within(form).getByTestId("email-invite-role"), "client");
    expect(within(form).queryByTestId("email-invite-relation")).not.toBeInTheDocument();
    await user.type(within(form).getByTestId("email-invite-address"), "mw.jansen@example.org{Enter}");
    expect(backend.commands.inviteByEmail).toHaveBeenCalledWith("!space", "mw.jansen@example.org", "client", null);
  });

  it("keeps what was typed on every failure and shows the error's own words", async () => {
    const { user } = await asRole("lead");
    const form = await openForm(user);
    const address = within(form).getByTestId("email-invite-address");
    await user.type(address, "els.jansen@example");
    await user.type(within(form).getByTestId("email-invite-relation"), "Dochter");
    // Only a hint: the identity service decides.
    await user.tab();
    expect(within(form).getByTestId("email-invite-address-hint")).toHaveTextContent("Dit lijkt geen e-mailadres.");
    expect(address).toHaveAttribute("aria-invalid", "true");
    expect(within(form).getByTestId("email-invite-submit")).toBeEnabled();

    backend.commands.inviteByEmail.mockResolvedValueOnce(err("email_invalid", "M_INVALID_PARAM"));
    await user.click(within(form).getByTestId("email-invite-submit"));
    expect(await within(form).findByTestId("email-invite-error")).toHaveTextContent(
      "Dit is geen e-mailadres. Controleer het op typefouten.",
    );
    expect(address).toHaveValue("els.jansen@example");
    expect(within(form).getByTestId("email-invite-relation")).toHaveValue("Dochter");

    await user.type(address, ".org");
    expect(within(form).queryByTestId("email-invite-address-hint")).not.toBeInTheDocument();
    backend.commands.inviteByEmail.mockResolvedValueOnce(err("email_in_use", "M_THREEPID_IN_USE"));
    await user.click(within(form).getByTestId("email-invite-submit"));
    await vi.waitFor(() =>
      expect(within(form).getByTestId("email-invite-error")).toHaveTextContent(
        "Dit e-mailadres hoort al bij een Kring-account. Nodig die persoon direct uit.",
      ),
    );
    expect(backend.commands.inviteByEmail).toHaveBeenLastCalledWith("!space", "els.jansen@example.org", "related_person", "Dochter");

    backend.commands.inviteByEmail.mockResolvedValueOnce(err("identity_service_unreachable", "connection refused"));
    await user.click(within(form).getByTestId("email-invite-submit"));
    await vi.waitFor(() =>
      expect(within(form).getByTestId("email-invite-error")).toHaveTextContent("identiteitsdienst van je organisatie is niet bereikbaar"),
    );
    expect(address).toHaveValue("els.jansen@example.org");
    expect(within(form).getByTestId("email-invite-relation")).toHaveValue("Dochter");
    expect(within(form).queryByTestId("email-invite-done")).not.toBeInTheDocument();
  });

  it("is not offered to those who may not add people", async () => {
    await asRole("practitioner");
    expect(screen.queryByTestId("email-invite-toggle")).not.toBeInTheDocument();
    expect(screen.getByTestId("add-not-permitted")).toBeInTheDocument();
  });

  it("says when a directory hit's chat address came from the identity service, and invites them like others", async () => {
    const { user } = await asRole("lead");
    backend.commands.searchDirectory.mockResolvedValueOnce(
      ok([
        directoryHit("Sanne de Wit", { function: "Fysiotherapeut", userId: "@sanne:fysio.example", foundByUzi: true }),
        directoryHit("Bram Visser", { function: "Wondverpleegkundige", userId: "@bram:zorg.example" }),
      ]),
    );
    await user.type(screen.getByLabelText("Naam"), "a{Enter}");
    const [sanne, bram] = await screen.findAllByTestId("directory-hit");
    expect(within(sanne!).getByTestId("directory-found-by-uzi")).toHaveTextContent(
      "Chatadres gevonden via de identiteitsdienst",
    );
    expect(within(bram!).queryByTestId("directory-found-by-uzi")).not.toBeInTheDocument();
    await user.click(within(sanne!).getByTestId("directory-invite"));
    expect(backend.commands.inviteToCareTeam).toHaveBeenCalledWith("!space", "@sanne:fysio.example", "practitioner");
  });
});
