import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import {
  absentWarning,
  awayLabel,
  currentAbsence,
  describeParticipant,
  directoryHost,
  formatAbsence,
  lastChecked,
  sortParticipants,
} from "$lib/careNetwork";
import { i18n } from "$lib/i18n/index.svelte";
import { assignableRoles, mayAddToCareTeam } from "$lib/ipc";
import { CareNetworkStore } from "$lib/stores/careNetwork.svelte";
import { absence, backend, careNetwork, err, ok, participant } from "../../test/fakeBackend";

const now = Date.UTC(2025, 11, 1, 10); // 1 December 2025

afterEach(() => {
  i18n.locale = "nl";
});

describe("what the care network says about a person", () => {
  it("describes practitioners by function and organisation, related persons by relation", () => {
    const base = { function: null, organisation: null, relation: null };
    expect(describeParticipant({ ...base, kind: "practitioner", function: "Huisarts", organisation: "De Brug" })).toBe(
      "Huisarts · De Brug",
    );
    expect(describeParticipant({ ...base, kind: "practitioner", organisation: "De Brug" })).toBe("De Brug");
    expect(describeParticipant({ ...base, kind: "practitioner" })).toBe("");
    expect(describeParticipant({ ...base, kind: "related_person", relation: "mantelzorger" })).toBe("mantelzorger");
    expect(describeParticipant({ ...base, kind: "related_person", relation: " " })).toBe("Naaste");
    expect(describeParticipant({ ...base, kind: "client" })).toBe("Cliënt");
    i18n.locale = "en";
    expect(describeParticipant({ ...base, kind: "related_person" })).toBe("Related person");
  });

  it("words absence periods, open-ended ones too", () => {
    expect(formatAbsence(absence("2025-11-29", "2025-12-06"), now)).toBe("29 nov – 6 dec");
    expect(formatAbsence(absence("2025-12-28", "2026-01-03"), now)).toBe("28 dec – 3 jan 2026");
    expect(formatAbsence(absence("2025-12-01T00:00:00+01:00", null), now)).toBe("vanaf 1 dec");
    expect(formatAbsence(absence(null, "2025-12-06"), now)).toBe("tot 6 dec");
    expect(formatAbsence(absence(null, null), now)).toBe("onbepaalde tijd");
    i18n.locale = "en";
    expect(formatAbsence(absence("2025-11-29", "2025-12-06"), now)).toBe("29 Nov – 6 Dec");
  });

  it("labels the away badge with the end of the current absence", () => {
    expect(awayLabel([absence("2025-11-29", "2025-12-06", null, true), absence("2025-12-20", "2025-12-24")], now)).toBe(
      "Afwezig tot 6 dec",
    );
    // Two overlapping absences: away until the later end; an open-ended one wins.
    const overlapping = [absence("2025-11-29", "2025-12-03", null, true), absence("2025-11-30", "2025-12-10", null, true)];
    expect(awayLabel(overlapping, now)).toBe("Afwezig tot 10 dec");
    expect(awayLabel([...overlapping, absence("2025-11-01", null, null, true)], now)).toBe("Afwezig");
    expect(awayLabel([], now)).toBe("Afwezig");
    expect(currentAbsence([absence("2025-12-20", "2025-12-24")])).toBeNull();
    i18n.locale = "en";
    expect(awayLabel([absence(null, "2025-12-06", null, true)], now)).toBe("Away until 6 Dec");
  });

  it("warns about an away recipient with whatever is known of the period", () => {
    const k = "Karim El Amrani";
    expect(absentWarning(k, [absence("2025-11-29", "2025-12-06", "Vakantie", true)], now)).toBe(
      "Karim El Amrani is afwezig van 29 nov tot 6 dec (Vakantie). Je bericht komt wel aan.",
    );
    expect(absentWarning(k, [absence(null, "2025-12-06", null, true)], now)).toBe(
      "Karim El Amrani is afwezig tot 6 dec. Je bericht komt wel aan.",
    );
    expect(absentWarning(k, [absence("2025-11-29", null, "Ziek", true)], now)).toBe(
      "Karim El Amrani is afwezig vanaf 29 nov (Ziek). Je bericht komt wel aan.",
    );
    expect(absentWarning(k, [absence(null, null, "Verlof", true)], now)).toBe(
      "Karim El Amrani is afwezig (Verlof). Je bericht komt wel aan.",
    );
    expect(absentWarning(k, [], now)).toBe("Karim El Amrani is afwezig. Je bericht komt wel aan.");
    i18n.locale = "en";
    expect(absentWarning(k, [absence("2025-11-29", "2025-12-06", "Holiday", true)], now)).toBe(
      "Karim El Amrani is away from 29 Nov to 6 Dec (Holiday). Your message will still arrive.",
    );
  });

  it("sorts the client first, then practitioners, then related persons, by name; the away keep their place", () => {
    const list = [
      participant("@z", "Zoë", "related_person"),
      participant("@b", "Bram", "practitioner", { absences: [absence(null, null, null, true)] }),
      participant("@c", "Mw. Jansen", "client"),
      participant("@a", "Anna", "lead"),
      participant("@e", "Els", "related_person"),
    ];
    expect(sortParticipants(list).map((p) => p.name)).toEqual(["Mw. Jansen", "Anna", "Bram", "Els", "Zoë"]);
  });

  it("names a directory by its host and finds when stale data was last read", () => {
    expect(directoryHost("https://mcsd.brug.example/fhir/")).toBe("mcsd.brug.example");
    expect(directoryHost("http://127.0.0.1:9501/fhir/")).toBe("127.0.0.1:9501");
    expect(directoryHost("mcsd.brug.example")).toBe("mcsd.brug.example");
    const network = careNetwork("!s", [
      participant("@a", "A", "practitioner", { stale: true, checkedAt: "2025-11-30T08:00:00Z" }),
      participant("@b", "B", "practitioner", { stale: true, checkedAt: "2025-11-29T08:00:00Z" }),
      participant("@c", "C", "practitioner", { checkedAt: "2025-11-01T08:00:00Z" }),
    ]);
    expect(lastChecked(network)).toBe(Date.parse("2025-11-29T08:00:00Z"));
    expect(lastChecked(careNetwork("!s", [participant("@a", "A", "practitioner")]))).toBeNull();
  });
});

describe("who may add whom", () => {
  it("lets seniors and the lead add people, with roles up to their own", () => {
    expect(mayAddToCareTeam("lead")).toBe(true);
    expect(mayAddToCareTeam("senior")).toBe(true);
    expect(mayAddToCareTeam("practitioner")).toBe(false);
    expect(mayAddToCareTeam("related_person")).toBe(false);
    expect(assignableRoles("senior")).toEqual(["client", "related_person", "practitioner", "senior"]);
    expect(assignableRoles("lead")).toHaveLength(5);
  });
});

describe("CareNetworkStore", () => {
  let store: CareNetworkStore;
  beforeEach(() => {
    backend.reset();
    store = new CareNetworkStore();
  });
  afterEach(() => store.close());

  it("forgets the previous client's network and drops its late answers", async () => {
    await store.open("!a");
    backend.pushCareNetwork(careNetwork("!a", [participant("@x", "X", "practitioner")]));
    expect(store.participants.map((p) => p.name)).toEqual(["X"]);

    let answer!: (r: unknown) => void;
    backend.commands.refreshCareNetwork.mockImplementationOnce(() => new Promise((r) => (answer = r)));
    const refreshing = store.refresh();
    expect(store.refreshing).toBe(true);

    await store.open("!b");
    expect(backend.commands.unsubscribe).toHaveBeenCalledWith(backend.channels.careNetwork[0]!.id);
    expect(store.loaded).toBe(false);
    expect(store.refreshing).toBe(false);
    answer(ok(careNetwork("!a", [participant("@late", "Te laat", "practitioner")])));
    await refreshing;
    backend.channels.careNetwork[0]!.channel.onmessage(careNetwork("!a", [participant("@late", "Te laat", "practitioner")]));
    expect(store.network).toBeNull();

    backend.pushCareNetwork(careNetwork("!b", [participant("@y", "Y", "practitioner")]), "!b");
    expect(store.participants.map((p) => p.name)).toEqual(["Y"]);
  });

  it("keeps the network while paused and reports a failed subscription", async () => {
    await store.open("!a");
    backend.pushCareNetwork(careNetwork("!a", [participant("@x", "X", "practitioner")]));
    await store.pause();
    expect(backend.commands.unsubscribe).toHaveBeenCalledTimes(1);
    expect(store.loaded).toBe(true);

    const onError = vi.fn();
    backend.commands.watchCareNetwork.mockResolvedValueOnce(err("session_lost", ""));
    await store.open("!a", onError);
    expect(onError).toHaveBeenCalledWith({ code: "session_lost", detail: "" });
    expect(store.error?.code).toBe("session_lost");
    expect(store.participants.map((p) => p.name)).toEqual(["X"]);
  });

  it("searches the directories and records a relation", async () => {
    await store.open("!a");
    backend.pushCareNetwork(careNetwork("!a", [participant("@h", "Henk", "related_person")]));
    await store.search({ name: "Karim", role: null, organisation: null });
    expect(backend.commands.searchDirectory).toHaveBeenCalledWith({ name: "Karim", role: null, organisation: null });
    expect((await store.setRelation("@h", "buurman")).status).toBe("ok");
    expect(backend.commands.setRelation).toHaveBeenCalledWith("!a", "@h", "buurman");
    expect(store.participant("@h")?.relation).toBe("buurman");
    backend.commands.setRelation.mockResolvedValueOnce(err("not_permitted", ""));
    expect((await store.setRelation("@h", "vader")).status).toBe("error");
    expect(store.participant("@h")?.relation).toBe("buurman");
  });
});
