// An in-memory stand-in for the Rust side, for running the UI in a plain browser
// (`npm run dev:mock`, `npm run build:mock`): demos, screenshots and fast browser
// tests without the Tauri shell. Never part of the normal build: main.ts imports
// it only when VITE_MOCK_IPC=1.
//
// Test hooks in the browser: log in with password "fout" for wrong_credentials;
// a message containing "mislukt" (or "te groot") fails for good, with a
// send-problem notice (retrying it then works; editing judges the new text);
// a message containing "offline" stays waiting until "/online"; "/offline" and
// "/online" switch the connection (meanwhile every message waits); "/melding"
// clicks a desktop notification of another room 1.5 s later. Files upload in
// visible steps. Dhr. de Boer's conversation holds a failed message to retry,
// edit or discard; Fatima's "Huisarts komt morgen" is urgent; "Wijkteam Noord"
// is muted. Care teams: "Cliënten" tab with two clients and one invitation;
// inviting someone as "Hoofdbehandelaar" answers not_permitted. Attachments are
// kept in memory and served as data: URLs in place of the kring-media scheme;
// "saving" one only answers the path Rust would have written.
// Care network ("Zorgnetwerk" tab of a client): Mw. A. Jansen's network has a
// GP away now (Karim El Amrani), a planned absence (Fatima Yilmaz) and a son
// with his relation; Dhr. P. de Boer's is stale (De Linde's directory is down,
// also after "Vernieuwen"). The directory search knows a few people; an
// organisation containing "onbereikbaar" answers directory_unreachable.
// Practitioners of Aurora and De Brug are "verified by the organisation"; Sanne
// de Wit's chat address comes from the identity service (found by UZI).
// "Uitnodigen per e-mail" (as lead): an address at kring.test answers
// email_in_use, a malformed one email_invalid; Mw. Jansen's network already
// shows one for a daughter (els.jansen@voorbeeld.nl).
// "Inloggen als naaste of cliënt" signs in as Els Jansen with no care team;
// "Bevestig je e-mailadres" with els.jansen@voorbeeld.nl and code 123456 (any
// other code: email_code_wrong) brings the invitation to Mw. Jansen's team.
// Organisation login ("Inloggen via je organisatie") walks through every step
// and signs in as the demo practitioner; add `?fail=<error code>` to the page's
// address (e.g. `?fail=matrix_account_missing`) to see that error at its step.
//
// The parts, each with its own state, made afresh by every installMockBackend():
// core.ts (session, ids, streams), session.ts (login, first login), rooms.ts
// (rooms, timelines, attachments, the send queue, read receipts),
// notifications.ts (settings, modes, clicked notifications), careTeams.ts (care teams, conversations),
// careNetwork.ts (care network, directories), devices.ts (verification, recovery, device list).
import { mockIPC } from "@tauri-apps/api/mocks";
import { type AnyChannel, type Args, type Commands, createMock } from "./core";
import { createCareNetwork } from "./careNetwork";
import { createCareTeams } from "./careTeams";
import { deviceCommands } from "./devices";
import { notificationCommands } from "./notifications";
import { createRooms } from "./rooms";
import { sessionCommands } from "./session";

export function installMockBackend(): void {
  const mock = createMock();
  const rooms = createRooms(mock);
  const teams = createCareTeams(mock, rooms, (spaceId) => network.changed(spaceId));
  const network = createCareNetwork(mock, teams);
  const commands: Commands = {
    ...sessionCommands(mock),
    ...rooms.commands,
    ...teams.commands,
    ...network.commands,
    ...notificationCommands(mock),
    ...deviceCommands(mock),
    unsubscribe: (args) => {
      mock.unsubscribe(args.id as string);
      return null;
    },
  };

  // The care lists as Rust streams them: a reset at once, and the list again
  // after every command that may have changed it (Rust sends diffs after each
  // sync; a reset is a diff too).
  const lists: Record<string, (spaceId?: string) => unknown> = {
    careTeams: () => commands.care_teams!({}),
    careTeamInvites: () => commands.care_team_invites!({}),
    conversations: (spaceId) => commands.conversations!({ spaceId }),
    members: (spaceId) => commands.care_team_members!({ spaceId }),
  };
  const watched = new Set<string>();
  const pushList = (kind: string, spaceId?: string) => {
    try {
      mock.push(kind, [{ op: "reset", values: lists[kind]!(spaceId) }], spaceId);
    } catch {
      // Signed out, or a team that is gone: nothing to send.
    }
  };
  const watch = (kind: string) => (args: Args) => {
    mock.requireSession();
    const spaceId = args.spaceId as string | undefined;
    const id = mock.open(kind, args.onUpdate as AnyChannel, spaceId);
    watched.add(JSON.stringify([kind, spaceId ?? null]));
    setTimeout(() => pushList(kind, spaceId), 100);
    return id;
  };
  commands.watch_care_teams = watch("careTeams");
  commands.watch_care_team_invites = watch("careTeamInvites");
  commands.watch_conversations = watch("conversations");
  commands.watch_care_team_members = watch("members");

  mockIPC(async (cmd, raw) => {
    const args = (raw ?? {}) as Args;
    await new Promise((r) => setTimeout(r, 150));
    if (!Object.hasOwn(commands, cmd)) throw new Error(`mock backend: unknown command ${cmd}`);
    try {
      return await commands[cmd]!(args);
    } finally {
      if (!cmd.startsWith("watch_") && cmd !== "unsubscribe") {
        for (const key of watched) {
          const [kind, spaceId] = JSON.parse(key) as [string, string | null];
          pushList(kind, spaceId ?? undefined);
        }
      }
    }
  });
  // There is no Rust shell to answer the kring-media scheme: hand out data: URLs.
  window.__TAURI_INTERNALS__.convertFileSrc = rooms.serve;
}
