// The care network of a client ("Zorgnetwerk") and the directories behind it:
// whom they list, with function, organisation and absences, and which answer.
import type { Absence, CareNetwork, DirectoryHit, DirectorySearch, Member, NetworkParticipant } from "$lib/ipc";
import { type AnyChannel, type Commands, type Mock, DAY, MIN, fail, now, sleep } from "./core";
import type { CareTeams } from "./careTeams";

/** A plain date `days` from today. */
const dayFrom = (days: number) => new Date(now + days * DAY).toISOString().slice(0, 10);

/** An absence from `startDays` to `endDays` (null: open-ended), as Rust sends it. */
function absence(startDays: number | null, endDays: number | null, description: string | null, dateTimes = false): Absence {
  const at = (days: number, time: string) => (dateTimes ? `${dayFrom(days)}T${time}+01:00` : dayFrom(days));
  const start = startDays === null ? null : at(startDays, "00:00:00");
  const end = endDays === null ? null : at(endDays, "23:59:59");
  const current = (startDays === null || startDays <= 0) && (endDays === null || endDays >= 0);
  return { start, end, description, current };
}

/** What the mock's directories know about a person. */
interface DirectoryEntry {
  name: string;
  function: string | null;
  organisation: string | null;
  userId: string | null;
  /** The directory names no chat address; the identity service has one bound to the UZI. */
  foundByUzi?: boolean;
  directory: string;
  absences: Absence[];
}

const AURORA = "https://mcsd.aurora.test/fhir/";
const BRUG = "https://mcsd.brug.test/fhir/";
const LINDE = "https://mcsd.delinde.test/fhir/";
/** De Linde's directory does not answer: whoever is listed there is shown from the cache. */
const UNREACHABLE = new Set([LINDE]);

export const DIRECTORY: DirectoryEntry[] = [
  {
    name: "Karim El Amrani",
    function: "Huisarts",
    organisation: "Huisartsenpraktijk De Brug",
    userId: "@karim:brug.test",
    directory: BRUG,
    absences: [absence(-4, 3, "Vakantie"), absence(30, 34, "Nascholing")],
  },
  {
    name: "Fatima Yilmaz",
    function: "Verzorgende IG",
    organisation: "Thuiszorg Aurora",
    userId: "@fatima:kring.test",
    directory: AURORA,
    absences: [absence(10, 12, "Cursus", true)],
  },
  {
    name: "Bram Visser",
    function: "Wondverpleegkundige",
    organisation: "Thuiszorg Aurora",
    userId: "@bram:kring.test",
    directory: AURORA,
    absences: [],
  },
  {
    name: "Johan Smits",
    function: "Specialist ouderengeneeskunde",
    organisation: "Verpleeghuis De Linde",
    userId: "@johan:delinde.test",
    directory: LINDE,
    absences: [absence(5, 9, "Vakantie")],
  },
  {
    name: "Sanne de Wit",
    function: "Fysiotherapeut",
    organisation: "Fysiotherapie Zwolle-Zuid",
    userId: "@sanne:fysio.test",
    foundByUzi: true,
    directory: BRUG,
    absences: [],
  },
  {
    name: "Eva Mulder",
    function: "Wijkverpleegkundige",
    organisation: "Thuiszorg Aurora",
    userId: "@eva:kring.test",
    directory: AURORA,
    absences: [absence(-1, null, "Ziek")],
  },
  {
    name: "Pieter Bos",
    function: "Apotheker",
    organisation: "Apotheek Centrum",
    userId: null,
    directory: BRUG,
    absences: [],
  },
];

export interface CareNetworks {
  /** Tells the watchers of a team's network what it is now. */
  changed(spaceId: string): void;
  commands: Commands;
}

export function createCareNetwork(mock: Mock, teams: CareTeams): CareNetworks {
  const { teamMembers, pendingEmailInvites } = teams;
  /** Relations of related persons, per care team and user (`set_relation`). */
  const relations: Record<string, Record<string, string>> = {
    "!ct-jansen": { "@henk:kring.test": "Zoon, mantelzorger" },
  };
  /** When each directory last answered. */
  const checked = new Map<string, number>([
    [AURORA, now - 20 * MIN],
    [BRUG, now - 20 * MIN],
    [LINDE, now - 3 * 60 * MIN],
  ]);

  function participantOf(spaceId: string, m: Member): NetworkParticipant {
    // A related person (care platform login) is in no directory.
    const own = m.userId === mock.session?.userId && !mock.carePlatform;
    const entry = own
      ? { name: m.displayName, function: "Wijkverpleegkundige", organisation: "Thuiszorg Aurora", directory: AURORA, absences: [] }
      : DIRECTORY.find((d) => d.userId === m.userId);
    const kind = m.role === "client" ? "client" : m.role === "related_person" ? "related_person" : "practitioner";
    const absences = entry?.absences ?? [];
    return {
      userId: m.userId,
      name: entry?.name ?? m.displayName,
      role: m.role,
      kind,
      joined: m.joined,
      function: entry?.function ?? null,
      organisation: entry?.organisation ?? null,
      relation: relations[spaceId]?.[m.userId] ?? null,
      absences,
      awayNow: absences.some((a) => a.current),
      stale: !!entry && UNREACHABLE.has(entry.directory),
      checkedAt: entry ? new Date(checked.get(entry.directory) ?? now).toISOString() : null,
      // Bound through their organisation's identity service; De Linde has none yet.
      verified: kind === "practitioner" && !!entry && entry.directory !== LINDE,
    };
  }
  function network(spaceId: string): CareNetwork {
    const participants = teamMembers(spaceId).map((m) => participantOf(spaceId, m));
    const unreachable = [
      ...new Set(
        participants
          .filter((p) => p.stale)
          .map((p) => DIRECTORY.find((d) => d.userId === p.userId)?.directory ?? "")
          .filter(Boolean),
      ),
    ];
    return {
      spaceId,
      participants,
      pendingEmailInvites: pendingEmailInvites(spaceId),
      // Twenty years, as the WGBO keeps a medical record.
      retentionSeconds: 20 * 365 * 24 * 3600,
      stale: unreachable.length > 0,
      unreachableDirectories: unreachable,
    };
  }
  /** Ask the directories again: those that answer are fresh now. */
  function readDirectories() {
    for (const directory of checked.keys()) if (!UNREACHABLE.has(directory)) checked.set(directory, Date.now());
  }
  function searchDirectory(query: DirectorySearch): DirectoryHit[] {
    const has = (field: string | null, wanted: string | null) =>
      !wanted?.trim() || !!field?.toLocaleLowerCase("nl").includes(wanted.trim().toLocaleLowerCase("nl"));
    if (query.organisation?.toLocaleLowerCase("nl").includes("onbereikbaar")) {
      fail("directory_unreachable", "mock: the directory did not answer");
    }
    return DIRECTORY.filter(
      (d) => has(d.name, query.name) && has(d.function, query.role) && has(d.organisation, query.organisation),
    ).map((d) => ({ ...d, foundByUzi: d.foundByUzi ?? false, awayNow: d.absences.some((a) => a.current) }));
  }
  const changed = (spaceId: string) => mock.push("careNetwork", network(spaceId), spaceId);

  const commands: Commands = {
    watch_care_network: (args) => {
      mock.requireSession();
      const spaceId = args.spaceId as string;
      network(spaceId);
      const id = mock.open("careNetwork", args.onUpdate as AnyChannel, spaceId);
      // The cached network at once, then again after the background read of the directories.
      setTimeout(() => changed(spaceId), 200);
      setTimeout(() => {
        readDirectories();
        changed(spaceId);
      }, 1500);
      return id;
    },
    refresh_care_network: async (args) => {
      mock.requireSession();
      const spaceId = args.spaceId as string;
      network(spaceId);
      await sleep(700);
      readDirectories();
      const fresh = network(spaceId);
      mock.push("careNetwork", fresh, spaceId);
      return fresh;
    },
    search_directory: async (args) => {
      mock.requireSession();
      await sleep(400);
      return searchDirectory(args.query as DirectorySearch);
    },
    set_relation: (args) => {
      mock.requireSession();
      const spaceId = args.spaceId as string;
      teamMembers(spaceId);
      (relations[spaceId] ??= {})[args.userId as string] = (args.relation as string).trim();
      changed(spaceId);
      return null;
    },
  };

  return { changed, commands };
}
