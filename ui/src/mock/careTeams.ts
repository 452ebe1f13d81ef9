// Care teams (one per client) with their members and invitations, and the
// conversations within them; invites by e-mail and the binding of an address
// that turns them into invitations for a related person's account.
import type {
  CareTeam,
  CareTeamInvite,
  ConversationSummary,
  ListDiff,
  Member,
  NewConversation,
  PendingEmailInvite,
  Role,
  RoomSummary,
} from "$lib/ipc";
import { type Commands, type Mock, MIN, fail, now, sleep } from "./core";
import { DIRECTORY } from "./careNetwork";
import { type Rooms, msg } from "./rooms";

export interface CareTeams {
  /** Everyone in the team, the signed-in user first; not_a_care_team for another space. */
  teamMembers(spaceId: string): Member[];
  /** Invites by e-mail not taken up yet, as the homeserver shows them (addresses redacted). */
  pendingEmailInvites(spaceId: string): PendingEmailInvite[];
  commands: Commands;
}

/** The code the mock "mails" to bind an address. */
export const EMAIL_CODE = "123456";
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** As Synapse shows a third-party invite: `j...@example.org`. */
function redact(address: string): string {
  const [local = "", domain = ""] = address.split("@");
  return `${local.slice(0, 1)}...@${domain}`;
}

/** `networkChanged`: the team's members changed, for the care network to tell its watchers. */
export function createCareTeams(mock: Mock, rooms: Rooms, networkChanged: (spaceId: string) => void): CareTeams {
  const { timelines } = rooms;
  // Members are kept without the signed-in user, who is added as lead when
  // asked (the user id depends on the login).
  const teams: { spaceId: string; clientName: string; pseudoBsn: string }[] = [
    { spaceId: "!ct-jansen", clientName: "Mw. A. Jansen", pseudoBsn: "900000001" },
    { spaceId: "!ct-deboer", clientName: "Dhr. P. de Boer", pseudoBsn: "900000002" },
  ];
  const invites: CareTeamInvite[] = [
    { spaceId: "!ct-smit", inviter: "Fatima Yilmaz", client: { displayName: "Mevr. L. Smit", pseudoBsn: "900000003" } },
  ];
  /** Invites by e-mail per team, with the full address only the identity service knows. */
  const emailInvites: Record<string, (PendingEmailInvite & { address: string; inviter: string })[]> = {
    "!ct-jansen": [
      {
        address: "els.jansen@voorbeeld.nl",
        displayName: redact("els.jansen@voorbeeld.nl"),
        role: "related_person",
        relation: "Dochter",
        inviter: "Bram Visser",
      },
    ],
  };
  // The related person of the care platform login: their invitations (once an
  // address is bound) and the teams they accepted.
  const relatedInvites: CareTeamInvite[] = [];
  const relatedTeams = new Set<string>();
  /** The address the last code was mailed to. */
  let validating: string | null = null;
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
        unreadHighlights: 0,
        lastActivityMs: now - 12 * 24 * 60 * MIN,
        sensitive: false,
      },
      {
        roomId: "!jansen",
        subject: "Onrustige nachten",
        kind: "professional",
        status: "active",
        participants: [fatima, bram],
        joined: true,
        // The room "Familie Jansen" of the room list: its counts are read from there (see `conversations`).
        unreadCount: 2,
        unreadHighlights: 1,
        lastActivityMs: now - 12 * MIN,
        sensitive: false,
      },
      {
        roomId: "!jansen-huisarts",
        subject: "Bezoek huisarts",
        kind: "professional",
        status: "active",
        participants: [fatima],
        joined: false,
        unreadCount: 1,
        unreadHighlights: 0,
        lastActivityMs: now - 3 * 60 * MIN,
        sensitive: false,
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
        unreadHighlights: 0,
        lastActivityMs: now - 26 * 60 * MIN,
        sensitive: false,
      },
    ],
    "!ct-smit": [],
  };
  timelines["!jansen-valpreventie"] = [msg("v1", "Fatima Yilmaz", "Rollator staat nu naast het bed.", 12 * 24 * 60 * MIN)];
  timelines["!jansen-huisarts"] = [msg("h1", "Fatima Yilmaz", "De huisarts komt donderdag langs.", 3 * 60 * MIN)];

  /** The signed-in user: lead of every team except de Boer's, where they are a practitioner. */
  function me(spaceId?: string): Member {
    const session = mock.session!;
    const role: Role = mock.carePlatform ? "related_person" : spaceId === "!ct-deboer" ? "practitioner" : "lead";
    return { userId: session.userId, displayName: session.displayName ?? session.userId, role, joined: true };
  }
  function teamMembers(spaceId: string): Member[] {
    const list = members[spaceId];
    if (!list || !teams.some((t) => t.spaceId === spaceId)) fail("not_a_care_team", spaceId);
    return [me(spaceId), ...list];
  }

  /**
   * A conversation that is also in the room list counts what is unread there,
   * so reading it (mark_read) clears its counts here too, as in Rust.
   */
  function conversationsOf(spaceId: string): ConversationSummary[] {
    return (conversationsBySpace[spaceId] ?? []).map((c) => {
      const room = rooms.rooms.find((r) => r.roomId === c.roomId);
      return room ? { ...c, unreadCount: room.unreadCount, unreadHighlights: room.unreadHighlights } : c;
    });
  }
  /** As Rust answers a team: its conversations' counts added up, the latest activity of all. */
  function careTeam({ spaceId, clientName }: { spaceId: string; clientName: string }): CareTeam {
    const team: CareTeam = { spaceId, clientName, unreadCount: 0, unreadHighlights: 0, lastActivityMs: null };
    for (const c of conversationsOf(spaceId)) {
      team.unreadCount += c.unreadCount;
      team.unreadHighlights += c.unreadHighlights;
      if (c.lastActivityMs != null) team.lastActivityMs = Math.max(team.lastActivityMs ?? -Infinity, c.lastActivityMs);
    }
    return team;
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
    const recipients = req.recipients.filter((r) => r !== mock.session!.userId);
    if (recipients.length === 0) fail("recipients_missing", "");
    const chosen = recipients.map((r) => all.find((m) => m.userId === r) ?? fail("recipient_not_in_care_team", r));
    if (req.kind === "professional") {
      const lay = chosen.find((m) => m.role === "client" || m.role === "related_person");
      if (lay) fail("not_in_professional_conversation", lay.userId);
    }
    const attachments = req.attachments ?? [];
    if (attachments.length > 5) fail("too_many_attachments", `${attachments.length}`);
    const roomId = `!conversation-${mock.nextId()}`;
    const firstId = `first-${roomId}`;
    timelines[roomId] = [
      msg(firstId, "Demo Gebruiker", req.body.trim(), 0, true, { attachments: rooms.keep(roomId, `$${firstId}`, attachments) }),
    ];
    conversationsBySpace[req.spaceId]!.push({
      roomId,
      subject,
      kind: req.kind,
      status: "active",
      participants: [me(req.spaceId), ...chosen],
      joined: true,
      unreadCount: 0,
      unreadHighlights: 0,
      lastActivityMs: Date.now(),
      sensitive: req.sensitive ?? false,
    });
    const summary: RoomSummary = {
      roomId,
      name: subject,
      unreadCount: 0,
      unreadHighlights: 0,
      lastActivityMs: Date.now(),
      isEncrypted: true,
      sensitive: false,
    };
    rooms.rooms.unshift(summary);
    mock.push("rooms", [{ op: "pushFront", value: summary }] satisfies ListDiff<RoomSummary>[]);
    return roomId;
  }

  /** What the identity service judges about an address (kring.test addresses belong to accounts). */
  function checkAddress(address: string): string {
    const trimmed = address.trim();
    if (!EMAIL.test(trimmed)) fail("email_invalid", `not an e-mail address: ${trimmed}`);
    if (trimmed.toLowerCase().endsWith("@kring.test")) fail("email_in_use", "M_THREEPID_IN_USE");
    return trimmed;
  }

  /** The code matched: every invite by e-mail to the address becomes an invitation for this account. */
  function bind(address: string) {
    for (const [spaceId, list] of Object.entries(emailInvites)) {
      const mine = list.filter((i) => i.address.toLowerCase() === address.toLowerCase());
      if (mine.length === 0) continue;
      emailInvites[spaceId] = list.filter((i) => !mine.includes(i));
      const team = teams.find((t) => t.spaceId === spaceId);
      if (team && !relatedInvites.some((i) => i.spaceId === spaceId) && !relatedTeams.has(spaceId)) {
        relatedInvites.push({
          spaceId,
          inviter: mine[0]!.inviter,
          client: { displayName: team.clientName, pseudoBsn: team.pseudoBsn },
        });
      }
      networkChanged(spaceId);
    }
  }

  const commands: Commands = {
    care_teams: () => {
      mock.requireSession();
      return teams.filter((t) => !mock.carePlatform || relatedTeams.has(t.spaceId)).map(careTeam);
    },
    care_team_invites: () => {
      mock.requireSession();
      return mock.carePlatform ? relatedInvites : invites;
    },
    invite_by_email: (args) => {
      mock.requireSession();
      const spaceId = args.spaceId as string;
      const role = args.role as Role;
      teamMembers(spaceId);
      const own = me(spaceId).role;
      if (own !== "senior" && own !== "lead") fail("not_permitted", "power level too low to invite");
      if (role !== "related_person" && role !== "client") fail("not_permitted", "only related persons and clients are invited by e-mail");
      const address = checkAddress(args.address as string);
      const relation = ((args.relation as string | null) ?? "").trim() || null;
      (emailInvites[spaceId] ??= []).push({
        address,
        displayName: redact(address),
        role,
        relation,
        inviter: mock.session!.displayName ?? mock.session!.userId,
      });
      networkChanged(spaceId);
      return null;
    },
    request_email_validation: async (args) => {
      mock.requireSession();
      const address = checkAddress(args.address as string);
      await sleep(300);
      validating = address;
      return null;
    },
    confirm_email: (args) => {
      mock.requireSession();
      if (!validating) fail("no_email_validation", "no mail was requested");
      if ((args.code as string).trim() !== EMAIL_CODE) fail("email_code_wrong", "M_THREEPID_AUTH_FAILED");
      const address = validating;
      validating = null;
      bind(address);
      return address;
    },
    create_care_team: (args) => {
      mock.requireSession();
      const client = args.client as { displayName: string; pseudoBsn: string };
      if (!client.displayName.trim() || !client.pseudoBsn.trim()) fail("client_incomplete", "");
      const team = { spaceId: `!ct-${mock.nextId()}`, clientName: client.displayName.trim(), pseudoBsn: client.pseudoBsn.trim() };
      teams.push(team);
      members[team.spaceId] = [];
      conversationsBySpace[team.spaceId] = [];
      return careTeam(team);
    },
    accept_care_team_invite: (args) => {
      mock.requireSession();
      const spaceId = args.spaceId as string;
      if (mock.carePlatform) {
        const at = relatedInvites.findIndex((i) => i.spaceId === spaceId);
        const team = teams.find((t) => t.spaceId === spaceId);
        if (at < 0 || !team) fail("not_a_care_team", spaceId);
        relatedInvites.splice(at, 1);
        relatedTeams.add(spaceId);
        return careTeam(team);
      }
      const index = invites.findIndex((i) => i.spaceId === spaceId);
      if (index < 0) fail("not_a_care_team", spaceId);
      const [accepted] = invites.splice(index, 1);
      const team = { spaceId, clientName: accepted!.client.displayName, pseudoBsn: accepted!.client.pseudoBsn };
      teams.push(team);
      return careTeam(team);
    },
    care_team_members: (args) => {
      mock.requireSession();
      return teamMembers(args.spaceId as string);
    },
    invite_to_care_team: (args) => {
      mock.requireSession();
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
      networkChanged(spaceId);
      return null;
    },
    conversations: (args) => {
      mock.requireSession();
      const spaceId = args.spaceId as string;
      teamMembers(spaceId);
      // A related person takes part only where the client and their people do.
      return conversationsOf(spaceId).filter((c) => !mock.carePlatform || c.kind === "client_inclusive");
    },
    start_conversation: (args) => {
      mock.requireSession();
      return startConversation(args.request as NewConversation);
    },
    join_conversation: (args) => {
      mock.requireSession();
      const roomId = args.roomId as string;
      findConversation(roomId);
      updateConversation(roomId, { joined: true });
      return null;
    },
    set_conversation_status: (args) => {
      mock.requireSession();
      const roomId = args.roomId as string;
      findConversation(roomId);
      // The demo's de Boer team is led by someone else: archiving there is refused.
      if (conversationsBySpace["!ct-deboer"]!.some((c) => c.roomId === roomId)) {
        fail("not_permitted", "power level too low");
      }
      updateConversation(roomId, { status: args.status as ConversationSummary["status"] });
      return null;
    },
    // The demo's Valpreventie (archived) was kept long ago; its oldest messages go in 9 days.
    expiring_conversations: (args) => {
      mock.requireSession();
      const spaceId = args.spaceId as string;
      return conversationsOf(spaceId)
        .filter((c) => c.roomId === "!jansen-valpreventie")
        .map((c) => ({
          spaceId,
          roomId: c.roomId,
          oldestMessageMs: now - 7291 * 24 * 60 * MIN,
          expiresMs: now + 9 * 24 * 60 * MIN,
          archived: false,
        }));
    },
    set_conversation_sensitive: (args) => {
      mock.requireSession();
      const roomId = args.roomId as string;
      findConversation(roomId);
      const sensitive = args.sensitive as boolean;
      updateConversation(roomId, { sensitive });
      const index = rooms.rooms.findIndex((r) => r.roomId === roomId);
      if (index >= 0) {
        rooms.rooms[index] = { ...rooms.rooms[index]!, sensitive };
        mock.push("rooms", [{ op: "set", index, value: rooms.rooms[index]! }] satisfies ListDiff<RoomSummary>[]);
      }
      return null;
    },
  };

  const pendingEmailInvites = (spaceId: string): PendingEmailInvite[] =>
    (emailInvites[spaceId] ?? []).map(({ displayName, role, relation }) => ({ displayName, role, relation }));

  return { teamMembers, pendingEmailInvites, commands };
}
