// An in-memory stand-in for the Rust side, for running the UI in a plain browser
// (`npm run dev:mock`, `npm run build:mock`): demos, screenshots and fast browser
// tests without the Tauri shell. Never part of the normal build: main.ts imports
// it only when VITE_MOCK_IPC=1.
//
// Test hooks in the browser: log in with password "fout" for wrong_credentials;
// a message containing "mislukt" fails to send; "/offline" and "/online" switch
// the sync banner. Care teams: "Cliënten" tab with two clients and one invitation;
// inviting someone as "Hoofdbehandelaar" answers not_permitted. Attachments are
// kept in memory and served as data: URLs in place of the kring-media scheme;
// "saving" one only answers the path Rust would have written.
// Care network ("Zorgnetwerk" tab of a client): Mw. A. Jansen's network has a
// GP away now (Karim El Amrani), a planned absence (Fatima Yilmaz) and a son
// with his relation; Dhr. P. de Boer's is stale (De Linde's directory is down,
// also after "Vernieuwen"). The directory search knows a few people; an
// organisation containing "onbereikbaar" answers directory_unreachable.
// Organisation login ("Inloggen via je organisatie") walks through every step
// and signs in as the demo practitioner; add `?fail=<error code>` to the page's
// address (e.g. `?fail=matrix_account_missing`) to see that error at its step.
import { mockIPC } from "@tauri-apps/api/mocks";
import type { Channel } from "@tauri-apps/api/core";
import type {
  Absence,
  AppError,
  Attachment,
  CareNetwork,
  CareTeam,
  CareTeamInvite,
  ConversationSummary,
  DirectoryHit,
  DirectorySearch,
  ListDiff,
  Member,
  NewAttachment,
  NetworkParticipant,
  NewConversation,
  Onboarded,
  OnboardingProgress,
  OnboardingStep,
  Role,
  RoomSummary,
  SessionInfo,
  SyncStatus,
  TimelineItem,
} from "$lib/ipc";

type AnyChannel = Channel<unknown>;

class Stream {
  private index = 0;
  constructor(private readonly channel: AnyChannel) {}
  send(message: unknown) {
    // Go through the real Channel message path (ordering by index).
    window.__TAURI_INTERNALS__.runCallback(this.channel.id, { index: this.index++, message });
  }
}

declare global {
  interface Window {
    __TAURI_INTERNALS__: {
      runCallback: (id: number, data: unknown) => void;
      convertFileSrc?: (path: string, protocol?: string) => string;
    };
  }
}

const MIN = 60_000;
const now = Date.now();

type Message = Extract<TimelineItem["content"], { type: "message" }>;

function msg(
  id: string,
  senderName: string,
  body: string,
  ago: number,
  own = false,
  extra: Partial<Message> = {},
): TimelineItem {
  return {
    id,
    content: {
      type: "message",
      eventId: `$${id}`,
      sender: own ? "@demo:kring.test" : `@${senderName.split(" ")[0]!.toLowerCase()}:kring.test`,
      senderName,
      body,
      timestampMs: now - ago,
      isOwn: own,
      sendState: { state: "sent" },
      senderRole: "practitioner",
      allowDestroy: own,
      attachments: [],
      inReplyTo: null,
      ...extra,
    },
  };
}

const EXTENSION_KINDS: Record<string, Attachment["kind"]> = {
  jpg: "image",
  jpeg: "image",
  png: "image",
  gif: "image",
  webp: "image",
  svg: "image",
  mp4: "video",
  mov: "video",
  mp3: "audio",
  m4a: "audio",
  ogg: "audio",
};

/** As Rust decides it: from the MIME type, else from the file name. */
function kindOf(filename: string, mime: string | null): Attachment["kind"] {
  const top = mime?.split("/")[0];
  if (top === "image" || top === "video" || top === "audio") return top;
  return EXTENSION_KINDS[filename.split(".").pop()?.toLowerCase() ?? ""] ?? "file";
}

function dataUrl(mime: string, data: number[]): string {
  let binary = "";
  for (let i = 0; i < data.length; i += 0x8000) binary += String.fromCharCode(...data.slice(i, i + 0x8000));
  return `data:${mime};base64,${btoa(binary)}`;
}

// A drawn stand-in for a wound photo, so the demo shows an inline image.
const DEMO_PHOTO = `data:image/svg+xml,${encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="200"><rect width="320" height="200" fill="#e6f2f2"/>' +
    '<circle cx="160" cy="100" r="48" fill="#d9a3a0"/><text x="160" y="186" text-anchor="middle" ' +
    'font-family="sans-serif" font-size="14" fill="#1b2529">Wondfoto (demo)</text></svg>',
)}`;

function fail(code: AppError["code"], detail: string): never {
  throw { code, detail } satisfies AppError;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const DAY = 24 * 60 * MIN;
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
  directory: string;
  absences: Absence[];
}

const AURORA = "https://mcsd.aurora.test/fhir/";
const BRUG = "https://mcsd.brug.test/fhir/";
const LINDE = "https://mcsd.delinde.test/fhir/";
/** De Linde's directory does not answer: whoever is listed there is shown from the cache. */
const UNREACHABLE = new Set([LINDE]);

const DIRECTORY: DirectoryEntry[] = [
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

/** Where each first-login error happens, for `?fail=<code>`. */
const FAILS_AT: Partial<Record<AppError["code"], OnboardingStep>> = {
  onboarding_not_configured: "organisation_login",
  idp_unreachable: "organisation_login",
  idp_rejected: "organisation_login",
  login_cancelled: "organisation_login",
  token_without_uzi: "organisation_login",
  token_without_ura: "organisation_login",
  ura_unknown: "find_organisation",
  directory_unreachable: "find_organisation",
  directory_malformed: "find_practitioner",
  practitioner_not_in_directory: "find_practitioner",
  no_matrix_address: "find_practitioner",
  matrix_account_missing: "connect_homeserver",
  homeserver_unreachable: "connect_homeserver",
  storage: "ready",
};

export function installMockBackend(): void {
  let session: SessionInfo | null = null;
  let nextId = 1;
  /** The running first login's cancel, if one runs. */
  let cancelOnboarding: (() => void) | null = null;
  const streams = new Map<string, { roomId?: string; kind: string; stream: Stream }>();

  const rooms: RoomSummary[] = [
    { roomId: "!jansen", name: "Familie Jansen", unreadCount: 2, lastActivityMs: now - 12 * MIN, isEncrypted: true },
    { roomId: "!deboer", name: "Dhr. de Boer — wondzorg", unreadCount: 0, lastActivityMs: now - 26 * 60 * MIN, isEncrypted: true },
    { roomId: "!wijk", name: "Wijkteam Noord", unreadCount: 0, lastActivityMs: now - 5 * 24 * 60 * MIN, isEncrypted: true },
  ];
  const timelines: Record<string, TimelineItem[]> = {
    "!jansen": [
      { id: "d1", content: { type: "dayDivider", timestampMs: now - 26 * 60 * MIN } },
      {
        id: "n1",
        content: {
          type: "notice",
          notice: { kind: "membership", userId: "@fatima:zorg.example", displayName: "Fatima Yilmaz", change: "joined" },
        },
      },
      msg("j1", "Fatima Yilmaz", "Mevrouw Jansen heeft vannacht onrustig geslapen.", 25 * 60 * MIN),
      { id: "d2", content: { type: "dayDivider", timestampMs: now - 40 * MIN } },
      msg("j2", "Demo Gebruiker", "Dank je. Ik kijk er vanmiddag naar.", 40 * MIN, true),
      { id: "r1", content: { type: "readMarker" } },
      msg("j3", "Fatima Yilmaz", "Huisarts komt morgen om 10:00.", 14 * MIN),
      msg("j4", "Bram Visser", "Medicatielijst is bijgewerkt.\nGraag even controleren.", 12 * MIN, false, {
        inReplyTo: "$j3",
        attachments: [
          { index: 0, filename: "medicatielijst.pdf", mime: "application/pdf", size: 48_213, kind: "file", allowDestroy: false },
        ],
      }),
    ],
    "!deboer": [
      msg("b1", "Bram Visser", "Wond ziet er rustig uit, verband gewisseld.", 26 * 60 * MIN, false, {
        attachments: [{ index: 0, filename: "wond.svg", mime: "image/svg+xml", size: 412, kind: "image", allowDestroy: false }],
      }),
    ],
    "!wijk": [],
  };
  let sync: SyncStatus = "running";
  /** Attachment contents by the path attachmentUrl builds (room/event/index). */
  const media = new Map<string, string>([[mediaKey("!deboer", "$b1", 0), DEMO_PHOTO]]);
  function mediaKey(roomId: string, eventId: string, index: number): string {
    return `${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}/${index}`;
  }

  // Care teams (one per client). Members are kept without the signed-in user,
  // who is added as lead when asked (the user id depends on the login).
  const teams: (CareTeam & { pseudoBsn: string })[] = [
    { spaceId: "!ct-jansen", clientName: "Mw. A. Jansen", pseudoBsn: "900000001" },
    { spaceId: "!ct-deboer", clientName: "Dhr. P. de Boer", pseudoBsn: "900000002" },
  ];
  const invites: CareTeamInvite[] = [
    { spaceId: "!ct-smit", inviter: "Fatima Yilmaz", client: { displayName: "Mevr. L. Smit", pseudoBsn: "900000003" } },
  ];
  const fatima: Member = { userId: "@fatima:kring.test", displayName: "Fatima Yilmaz", role: "practitioner", joined: true };
  const bram: Member = { userId: "@bram:kring.test", displayName: "Bram Visser", role: "senior", joined: true };
  const members: Record<string, Member[]> = {
    "!ct-jansen": [
      fatima,
      bram,
      { userId: "@karim:brug.test", displayName: "Karim El Amrani (huisarts)", role: "practitioner", joined: true },
      { userId: "@henk:kring.test", displayName: "Henk Jansen", role: "related_person", joined: true },
      { userId: "@ajansen:kring.test", displayName: "Mw. A. Jansen", role: "client", joined: false },
    ],
    "!ct-deboer": [bram, { userId: "@johan:delinde.test", displayName: "Johan Smits", role: "practitioner", joined: true }],
    "!ct-smit": [fatima],
  };
  const conversationsBySpace: Record<string, ConversationSummary[]> = {
    "!ct-jansen": [
      {
        roomId: "!jansen-valpreventie",
        subject: "Valpreventie",
        kind: "client_inclusive",
        status: "archived",
        participants: [fatima, members["!ct-jansen"]![2]!],
        joined: true,
        unreadCount: 0,
        lastActivityMs: now - 12 * 24 * 60 * MIN,
      },
      {
        roomId: "!jansen",
        subject: "Onrustige nachten",
        kind: "professional",
        status: "active",
        participants: [fatima, bram],
        joined: true,
        unreadCount: 2,
        lastActivityMs: now - 12 * MIN,
      },
      {
        roomId: "!jansen-huisarts",
        subject: "Bezoek huisarts",
        kind: "professional",
        status: "active",
        participants: [fatima],
        joined: false,
        unreadCount: 1,
        lastActivityMs: now - 3 * 60 * MIN,
      },
    ],
    "!ct-deboer": [
      {
        roomId: "!deboer",
        subject: "Wondzorg",
        kind: "professional",
        status: "active",
        participants: [bram],
        joined: true,
        unreadCount: 0,
        lastActivityMs: now - 26 * 60 * MIN,
      },
    ],
    "!ct-smit": [],
  };
  timelines["!jansen-valpreventie"] = [msg("v1", "Fatima Yilmaz", "Rollator staat nu naast het bed.", 12 * 24 * 60 * MIN)];
  timelines["!jansen-huisarts"] = [msg("h1", "Fatima Yilmaz", "De huisarts komt donderdag langs.", 3 * 60 * MIN)];

  /** The signed-in user: lead of every team except de Boer's, where they are a practitioner. */
  function me(spaceId?: string): Member {
    const role: Role = spaceId === "!ct-deboer" ? "practitioner" : "lead";
    return { userId: session!.userId, displayName: session!.displayName ?? session!.userId, role, joined: true };
  }
  function teamMembers(spaceId: string): Member[] {
    const list = members[spaceId];
    if (!list || !teams.some((t) => t.spaceId === spaceId)) fail("not_a_care_team", spaceId);
    return [me(spaceId), ...list];
  }
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
    const own = m.userId === session?.userId;
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
    return { spaceId, participants, stale: unreachable.length > 0, unreachableDirectories: unreachable };
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
    ).map((d) => ({ ...d, awayNow: d.absences.some((a) => a.current) }));
  }

  function findConversation(roomId: string): ConversationSummary {
    for (const list of Object.values(conversationsBySpace)) {
      const c = list.find((c) => c.roomId === roomId);
      if (c) return c;
    }
    return fail("unknown_room", roomId);
  }
  function updateConversation(roomId: string, change: Partial<ConversationSummary>) {
    for (const list of Object.values(conversationsBySpace)) {
      const i = list.findIndex((c) => c.roomId === roomId);
      if (i >= 0) list[i] = { ...list[i]!, ...change };
    }
  }
  function startConversation(req: NewConversation): string {
    const all = teamMembers(req.spaceId);
    const subject = req.subject.trim();
    if (!subject) fail("subject_missing", "");
    if (Array.from(subject).length > 50) fail("subject_too_long", `${Array.from(subject).length} characters`);
    if (!req.body.trim()) fail("body_missing", "");
    const recipients = req.recipients.filter((r) => r !== session!.userId);
    if (recipients.length === 0) fail("recipients_missing", "");
    const chosen = recipients.map((r) => all.find((m) => m.userId === r) ?? fail("recipient_not_in_care_team", r));
    if (req.kind === "professional") {
      const lay = chosen.find((m) => m.role === "client" || m.role === "related_person");
      if (lay) fail("not_in_professional_conversation", lay.userId);
    }
    const attachments = req.attachments ?? [];
    if (attachments.length > 5) fail("too_many_attachments", `${attachments.length}`);
    const roomId = `!conversation-${nextId++}`;
    const firstId = `first-${roomId}`;
    timelines[roomId] = [
      msg(firstId, "Demo Gebruiker", req.body.trim(), 0, true, { attachments: keep(roomId, `$${firstId}`, attachments) }),
    ];
    conversationsBySpace[req.spaceId]!.push({
      roomId,
      subject,
      kind: req.kind,
      status: "active",
      participants: [me(req.spaceId), ...chosen],
      joined: true,
      unreadCount: 0,
      lastActivityMs: Date.now(),
    });
    const summary: RoomSummary = { roomId, name: subject, unreadCount: 0, lastActivityMs: Date.now(), isEncrypted: true };
    rooms.unshift(summary);
    push("rooms", [{ op: "pushFront", value: summary }] satisfies ListDiff<RoomSummary>[]);
    return roomId;
  }

  /** Store what was attached under the event's address and describe it as a timeline item does. */
  function keep(roomId: string, eventId: string, attachments: NewAttachment[]): Attachment[] {
    return attachments.map((a, index) => {
      const mime = a.mime ?? null;
      media.set(mediaKey(roomId, eventId, index), dataUrl(mime ?? "application/octet-stream", a.data));
      return { index, filename: a.filename, mime, size: a.data.length, kind: kindOf(a.filename, mime), allowDestroy: true };
    });
  }

  /** A message from this user: "sending" at once, "sent" (or failed) a moment later. */
  function sendMessage(roomId: string, body: string, attachments: NewAttachment[], inReplyTo: string | null): null {
    if (body === "/offline" || body === "/online") {
      sync = body === "/offline" ? "offline" : "running";
      push("sync", sync);
      return null;
    }
    const list = timelines[roomId];
    if (!list) fail("unknown_room", roomId);
    if (attachments.length > 5) fail("too_many_attachments", `${attachments.length}`);
    if (!body.trim() && attachments.length === 0) fail("body_missing", "");
    const id = `local-${nextId++}`;
    const described = keep(roomId, `$${id}`, attachments);
    const item = msg(id, "Demo Gebruiker", body, 0, true, {
      eventId: null,
      timestampMs: Date.now(),
      sendState: { state: "sending" },
      attachments: described,
      inReplyTo,
    });
    list.push(item);
    push("timeline", [{ op: "pushBack", value: item }], roomId);
    setTimeout(() => {
      const index = list.indexOf(item);
      const failed = body.includes("mislukt") || sync === "offline";
      const done: TimelineItem = {
        ...item,
        content: {
          ...(item.content as Message),
          eventId: failed ? null : `$${item.id}`,
          sendState: failed
            ? { state: "failed", reason: "server niet bereikbaar", recoverable: true }
            : { state: "sent" },
        },
      };
      list[index] = done;
      push("timeline", [{ op: "set", index, value: done }], roomId);
    }, 900);
    return null;
  }

  function findAttachment(roomId: string, eventId: string, index: number): Attachment {
    for (const item of timelines[roomId] ?? []) {
      const c = item.content;
      if (c.type === "message" && c.eventId === eventId) {
        const found = c.attachments.find((a) => a.index === index);
        if (found) return found;
      }
    }
    return fail("attachment_unavailable", `${roomId} ${eventId} ${index}`);
  }

  function open(kind: string, channel: AnyChannel, roomId?: string): string {
    const id = `${kind}-${nextId++}`;
    streams.set(id, { kind, roomId, stream: new Stream(channel) });
    return id;
  }
  function push(kind: string, message: unknown, roomId?: string) {
    for (const s of streams.values()) if (s.kind === kind && s.roomId === roomId) s.stream.send(message);
  }
  function requireSession() {
    if (!session) fail("not_logged_in", "no session");
  }

  /**
   * The organisation login as Rust runs it: each step "running", then "done"
   * with what it found; the browser step waits longest (the user signs in there).
   */
  async function firstLogin(channel: AnyChannel): Promise<Onboarded> {
    const progress = new Stream(channel);
    const report = (step: OnboardingStep, state: OnboardingProgress["state"], detail: string | null = null) =>
      progress.send({ step, state, detail } satisfies OnboardingProgress);
    const failCode = new URLSearchParams(globalThis.location?.search ?? "").get("fail") as AppError["code"] | null;
    const failAt = failCode ? FAILS_AT[failCode] : undefined;
    let cancelled = false;
    cancelOnboarding = () => (cancelled = true);
    const found: Record<OnboardingStep, [number, string | null]> = {
      organisation_login: [1200, "An de Vries"],
      find_organisation: [500, "Ziekenhuis Aurora"],
      find_practitioner: [500, "A. de Vries (verpleegkundige)"],
      connect_homeserver: [600, "@an.devries:kring.test"],
      ready: [200, null],
    };
    try {
      for (const [step, [ms, detail]] of Object.entries(found) as [OnboardingStep, [number, string | null]][]) {
        report(step, "running");
        for (let waited = 0; waited < ms && !cancelled; waited += 100) await sleep(100);
        if (cancelled && step === "organisation_login") {
          report(step, "failed");
          fail("login_cancelled", "cancelled by the user");
        }
        if (step === failAt && failCode) {
          report(step, "failed");
          fail(failCode, `mock: ?fail=${failCode}`);
        }
        report(step, "done", detail);
      }
    } finally {
      cancelOnboarding = null;
    }
    session = {
      userId: "@an.devries:kring.test",
      deviceId: "MOCKDEVICE",
      homeserver: "https://kring.test",
      displayName: "An de Vries",
    };
    return {
      session,
      organisation: "Ziekenhuis Aurora",
      practitioner: "A. de Vries (verpleegkundige)",
      account: "provisioned",
      directory: "https://mcsd.aurora.test/fhir",
    };
  }

  const serve = (path: string, protocol = "asset") =>
    (protocol === "kring-media" && media.get(path)) || `${protocol}://localhost/${encodeURIComponent(path)}`;

  mockIPC(async (cmd, raw) => {
    const args = (raw ?? {}) as Record<string, unknown>;
    await new Promise((r) => setTimeout(r, 150));
    switch (cmd) {
      case "restore_session":
        return session;
      case "login": {
        const req = args.request as { homeserver: string; username: string; password: string };
        if (!/^https?:\/\/\S+$/.test(req.homeserver)) fail("invalid_homeserver", `not a URL: ${req.homeserver}`);
        if (req.password === "fout") fail("wrong_credentials", "M_FORBIDDEN: Invalid username or password");
        session = {
          userId: `@${req.username}:${new URL(req.homeserver).hostname}`,
          deviceId: "MOCKDEVICE",
          homeserver: req.homeserver,
          displayName: "Demo Gebruiker",
        };
        return session;
      }
      case "login_options":
        return { organisationLogin: true, idpName: "Aurora Login (demo)" };
      case "first_login":
        return firstLogin(args.onProgress as AnyChannel);
      case "cancel_first_login":
        cancelOnboarding?.();
        return null;
      case "logout":
        session = null;
        streams.clear();
        return null;
      case "watch_rooms": {
        requireSession();
        const ch = args.onUpdate as AnyChannel;
        const id = open("rooms", ch);
        setTimeout(() => push("rooms", [{ op: "reset", values: rooms }] satisfies ListDiff<RoomSummary>[]), 400);
        return id;
      }
      case "watch_sync": {
        requireSession();
        const id = open("sync", args.onUpdate as AnyChannel);
        setTimeout(() => push("sync", sync), 50);
        return id;
      }
      case "watch_timeline": {
        requireSession();
        const roomId = args.roomId as string;
        if (!(roomId in timelines)) fail("unknown_room", roomId);
        const id = open("timeline", args.onUpdate as AnyChannel, roomId);
        setTimeout(() => push("timeline", [{ op: "reset", values: timelines[roomId] }], roomId), 300);
        return id;
      }
      case "unsubscribe":
        streams.delete(args.id as string);
        return null;
      case "paginate_back":
        return true;
      case "send_text":
        requireSession();
        return sendMessage(args.roomId as string, args.body as string, [], null);
      case "send_message":
        requireSession();
        return sendMessage(
          args.roomId as string,
          args.body as string,
          args.attachments as NewAttachment[],
          (args.inReplyTo as string | null) ?? null,
        );
      case "save_attachment": {
        requireSession();
        const found = findAttachment(args.roomId as string, args.eventId as string, args.index as number);
        return `/home/demo/Downloads/${found.filename}`;
      }
      case "care_teams":
        requireSession();
        return teams.map(({ spaceId, clientName }) => ({ spaceId, clientName }));
      case "care_team_invites":
        requireSession();
        return invites;
      case "create_care_team": {
        requireSession();
        const client = args.client as { displayName: string; pseudoBsn: string };
        if (!client.displayName.trim() || !client.pseudoBsn.trim()) fail("client_incomplete", "");
        const team = { spaceId: `!ct-${nextId++}`, clientName: client.displayName.trim(), pseudoBsn: client.pseudoBsn.trim() };
        teams.push(team);
        members[team.spaceId] = [];
        conversationsBySpace[team.spaceId] = [];
        return { spaceId: team.spaceId, clientName: team.clientName };
      }
      case "accept_care_team_invite": {
        requireSession();
        const spaceId = args.spaceId as string;
        const index = invites.findIndex((i) => i.spaceId === spaceId);
        if (index < 0) fail("not_a_care_team", spaceId);
        const [accepted] = invites.splice(index, 1);
        const team = { spaceId, clientName: accepted!.client.displayName, pseudoBsn: accepted!.client.pseudoBsn };
        teams.push(team);
        return { spaceId, clientName: team.clientName };
      }
      case "care_team_members":
        requireSession();
        return teamMembers(args.spaceId as string);
      case "invite_to_care_team": {
        requireSession();
        const spaceId = args.spaceId as string;
        const userId = (args.userId as string).trim();
        const role = args.role as Role;
        teamMembers(spaceId);
        if (!/^@[^:\s]+:\S+$/.test(userId)) fail("unknown_user", userId);
        if (role === "lead") fail("not_permitted", "only the lead may appoint a lead");
        const list = members[spaceId]!;
        if (!list.some((m) => m.userId === userId)) {
          const known = DIRECTORY.find((d) => d.userId === userId);
          list.push({ userId, displayName: known?.name ?? userId.slice(1).split(":")[0]!, role, joined: false });
        }
        push("careNetwork", network(spaceId), spaceId);
        return null;
      }
      case "watch_care_network": {
        requireSession();
        const spaceId = args.spaceId as string;
        network(spaceId);
        const id = open("careNetwork", args.onUpdate as AnyChannel, spaceId);
        // The cached network at once, then again after the background read of the directories.
        setTimeout(() => push("careNetwork", network(spaceId), spaceId), 200);
        setTimeout(() => {
          readDirectories();
          push("careNetwork", network(spaceId), spaceId);
        }, 1500);
        return id;
      }
      case "refresh_care_network": {
        requireSession();
        const spaceId = args.spaceId as string;
        network(spaceId);
        await sleep(700);
        readDirectories();
        const fresh = network(spaceId);
        push("careNetwork", fresh, spaceId);
        return fresh;
      }
      case "search_directory":
        requireSession();
        await sleep(400);
        return searchDirectory(args.query as DirectorySearch);
      case "set_relation": {
        requireSession();
        const spaceId = args.spaceId as string;
        teamMembers(spaceId);
        (relations[spaceId] ??= {})[args.userId as string] = (args.relation as string).trim();
        push("careNetwork", network(spaceId), spaceId);
        return null;
      }
      case "conversations": {
        requireSession();
        const spaceId = args.spaceId as string;
        teamMembers(spaceId);
        return conversationsBySpace[spaceId] ?? [];
      }
      case "start_conversation":
        requireSession();
        return startConversation(args.request as NewConversation);
      case "join_conversation": {
        requireSession();
        const roomId = args.roomId as string;
        findConversation(roomId);
        updateConversation(roomId, { joined: true });
        return null;
      }
      case "set_conversation_status": {
        requireSession();
        const roomId = args.roomId as string;
        findConversation(roomId);
        // The demo's de Boer team is led by someone else: archiving there is refused.
        if (conversationsBySpace["!ct-deboer"]!.some((c) => c.roomId === roomId)) {
          fail("not_permitted", "power level too low");
        }
        updateConversation(roomId, { status: args.status as ConversationSummary["status"] });
        return null;
      }
      default:
        throw new Error(`mock backend: unknown command ${cmd}`);
    }
  });
  // There is no Rust shell to answer the kring-media scheme: hand out data: URLs.
  window.__TAURI_INTERNALS__.convertFileSrc = serve;
}
