// A stand-in for the Rust side at the module boundary: tests do
//   vi.mock("$lib/ipc/bindings", () => import("../test/fakeBackend").then((m) => m.bindingsModule));
// and drive `backend` to answer commands and push diffs through the channels the UI opened.
import { vi } from "vitest";
import type { Channel } from "@tauri-apps/api/core";
import type {
  Absence,
  AppError,
  AppLockState,
  Attachment,
  CareNetwork,
  CareTeam,
  CareTeamInvite,
  ConversationSummary,
  DeviceTrust,
  DirectoryHit,
  ErrorCode,
  LoginOptions,
  Member,
  NetworkParticipant,
  NotificationSettings,
  Onboarded,
  OnboardingProgress,
  OnboardingStep,
  PendingEmailInvite,
  Role,
  ListDiff,
  Result,
  RoomSummary,
  SendProblem,
  SessionInfo,
  StepState,
  SyncStatus,
  TimelineItem,
  TimelineContent,
  VerificationStep,
} from "$lib/ipc";

export function ok<T>(data: T): Result<T, AppError> {
  return { status: "ok", data };
}

export function err(code: ErrorCode, detail = ""): { status: "error"; error: AppError } {
  return { status: "error", error: { code, detail } };
}

export const aSession: SessionInfo = {
  userId: "@an.verpleegkundige:zorg.example",
  deviceId: "DEVICE1",
  homeserver: "https://matrix.zorg.example",
  displayName: "An de Vries",
};

/** What Rust answers when a first login succeeds. */
export const anOnboarded: Onboarded = {
  session: aSession,
  organisation: "Ziekenhuis Aurora",
  practitioner: "An de Vries",
  account: "provisioned",
  directory: "https://mcsd.aurora.example/fhir",
};

export const verifiedDevice: DeviceTrust = { recovery: "enabled", verified: true, backupEnabled: true };

export const noOrganisationLogin: LoginOptions = { organisationLogin: false, idpName: null, relatedPersonLogin: null };

/** A related person signed in at the care platform (no directory, no UZI). */
export const aRelatedSession: SessionInfo = {
  userId: "@els.jansen:zorg.example",
  deviceId: "DEVICE2",
  homeserver: "https://matrix.zorg.example",
  displayName: "Els Jansen",
};

export function progress(step: OnboardingStep, state: StepState, detail: string | null = null): OnboardingProgress {
  return { step, state, detail };
}

/** What a successful first login reports, step by step ("done" details as Rust sends them). */
export const onboardingDetails: Record<OnboardingStep, string | null> = {
  organisation_login: "An de Vries",
  find_organisation: "Ziekenhuis Aurora",
  find_practitioner: "A. de Vries",
  connect_homeserver: "@an.verpleegkundige:zorg.example",
  bind_identity: "UZI 900012345",
  ready: null,
};

/**
 * The progress of a first login that gets through every step before `failAt`
 * (all steps when it is absent), then fails there if given.
 */
export function onboardingUntil(failAt?: OnboardingStep): OnboardingProgress[] {
  const steps: OnboardingStep[] = ["organisation_login", "find_organisation", "find_practitioner", "connect_homeserver", "ready"];
  const out: OnboardingProgress[] = [];
  for (const step of steps) {
    out.push(progress(step, "running"));
    if (step === failAt) {
      out.push(progress(step, "failed"));
      return out;
    }
    out.push(progress(step, "done", onboardingDetails[step]));
  }
  return out;
}

export function room(roomId: string, name: string, extra: Partial<RoomSummary> = {}): RoomSummary {
  return { roomId, name, unreadCount: 0, unreadHighlights: 0, lastActivityMs: null, isEncrypted: true, sensitive: false, ...extra };
}

export function message(
  id: string,
  body: string,
  extra: Partial<Extract<TimelineContent, { type: "message" }>> = {},
): TimelineItem {
  return {
    id,
    content: {
      type: "message",
      eventId: `$${id}`,
      sender: "@bob:zorg.example",
      senderName: "Bob Jansen",
      body,
      timestampMs: Date.UTC(2025, 2, 3, 13, 5), // 14:05 in Amsterdam
      isOwn: false,
      sendState: { state: "sent" },
      senderRole: "practitioner",
      allowDestroy: extra.isOwn ?? false,
      attachments: [],
      inReplyTo: null,
      urgent: false,
      ...extra,
    },
  };
}

/** Rust's defaults: no message text in notifications, urgent ones repeated 3 times, every 2 minutes. */
export const defaultNotificationSettings: NotificationSettings = {
  showMessageText: false,
  repeatAfterSeconds: 120,
  repeatCount: 3,
};

/** A message in `roomId` that failed for good, as Rust reports it on the send-problems stream. */
export function sendProblem(roomId: string, roomName: string, extra: Partial<SendProblem> = {}): SendProblem {
  return { roomId, roomName, code: "server", reason: "500 Internal Server Error", ...extra };
}

export function attachment(index: number, filename: string, extra: Partial<Attachment> = {}): Attachment {
  return { index, filename, mime: null, size: null, kind: "file", allowDestroy: false, ...extra };
}

/** Nothing unread and no activity unless `extra` says otherwise (Rust sums the team's conversations). */
export function careTeam(spaceId: string, clientName: string, extra: Partial<CareTeam> = {}): CareTeam {
  return { spaceId, clientName, unreadCount: 0, unreadHighlights: 0, lastActivityMs: null, ...extra };
}

export function invite(spaceId: string, displayName: string, inviter: string | null = "@lead:zorg.example"): CareTeamInvite {
  return { spaceId, inviter, client: { displayName, pseudoBsn: "123456782" } };
}

export function member(userId: string, displayName: string, role: Role, joined = true): Member {
  return { userId, displayName, role, joined };
}

export function conversation(
  roomId: string,
  subject: string,
  extra: Partial<ConversationSummary> = {},
): ConversationSummary {
  return {
    roomId,
    subject,
    kind: "professional",
    status: "active",
    participants: [],
    joined: true,
    unreadCount: 0,
    unreadHighlights: 0,
    lastActivityMs: null,
    sensitive: false,
    ...extra,
  };
}

/** An absence as Rust sends it; `current` says whether it includes now. */
export function absence(start: string | null, end: string | null, description: string | null = null, current = false): Absence {
  return { start, end, description, current };
}

/** A practitioner unless `extra.kind` says otherwise; `awayNow` follows the absences. */
export function participant(
  userId: string,
  name: string,
  role: Role,
  extra: Partial<NetworkParticipant> = {},
): NetworkParticipant {
  const kind = role === "client" ? "client" : role === "related_person" ? "related_person" : "practitioner";
  const absences = extra.absences ?? [];
  return {
    userId,
    name,
    role,
    kind,
    joined: true,
    function: null,
    organisation: null,
    relation: null,
    absences,
    awayNow: absences.some((a) => a.current),
    stale: false,
    checkedAt: null,
    verified: false,
    ...extra,
  };
}

export function careNetwork(spaceId: string, participants: NetworkParticipant[], extra: Partial<CareNetwork> = {}): CareNetwork {
  return {
    spaceId,
    participants,
    pendingEmailInvites: [],
    retentionSeconds: null,
    stale: false,
    unreachableDirectories: [],
    ...extra,
  };
}

/** An invite by e-mail not taken up yet; the address as the homeserver redacts it. */
export function pendingEmailInvite(
  displayName: string,
  role: Role = "related_person",
  relation: string | null = null,
): PendingEmailInvite {
  return { displayName, role, relation };
}

export function directoryHit(name: string, extra: Partial<DirectoryHit> = {}): DirectoryHit {
  const absences = extra.absences ?? [];
  return {
    name,
    function: null,
    organisation: null,
    userId: null,
    foundByUzi: false,
    directory: "https://mcsd.example/fhir/",
    absences,
    awayNow: absences.some((a) => a.current),
    ...extra,
  };
}

type Ch<T> = Channel<T>;

function createBackend() {
  let nextSub = 0;
  const channels = {
    rooms: [] as Ch<ListDiff<RoomSummary>[]>[],
    sync: [] as Ch<SyncStatus>[],
    timeline: [] as { roomId: string; id: string; channel: Ch<ListDiff<TimelineItem>[]> }[],
    onboarding: [] as Ch<OnboardingProgress>[],
    careNetwork: [] as { spaceId: string; id: string; channel: Ch<CareNetwork> }[],
    sendProblems: [] as Ch<SendProblem>[],
    activations: [] as Ch<string>[],
    verification: [] as Ch<VerificationStep>[],
    verificationRequests: [] as Ch<VerificationStep>[],
    careTeams: [] as Ch<ListDiff<CareTeam>[]>[],
    careTeamInvites: [] as Ch<ListDiff<CareTeamInvite>[]>[],
    conversations: [] as { spaceId: string; channel: Ch<ListDiff<ConversationSummary>[]> }[],
    members: [] as { spaceId: string; channel: Ch<ListDiff<Member>[]> }[],
  };
  /** The last network pushed per client, for the default refresh answer. */
  const delivered = new Map<string, CareNetwork>();
  /** How the pending first login (if any) will answer; set by `firstLogin`, used by `finishFirstLogin`. */
  let finishPending: ((result: Result<Onboarded, AppError>) => void) | null = null;
  const commands = {
    login: vi.fn(),
    restoreSession: vi.fn(),
    logout: vi.fn(),
    loginOptions: vi.fn(),
    firstLogin: vi.fn(),
    cancelFirstLogin: vi.fn(),
    relatedPersonLogin: vi.fn(),
    requestEmailValidation: vi.fn(),
    confirmEmail: vi.fn(),
    watchRooms: vi.fn(),
    watchTimeline: vi.fn(),
    watchSync: vi.fn(),
    unsubscribe: vi.fn(),
    sendText: vi.fn(),
    sendMessage: vi.fn(),
    saveAttachment: vi.fn(),
    redact: vi.fn(),
    paginateBack: vi.fn(),
    careTeams: vi.fn(),
    watchCareTeams: vi.fn(),
    watchCareTeamInvites: vi.fn(),
    watchConversations: vi.fn(),
    watchCareTeamMembers: vi.fn(),
    createCareTeam: vi.fn(),
    careTeamInvites: vi.fn(),
    acceptCareTeamInvite: vi.fn(),
    careTeamMembers: vi.fn(),
    inviteToCareTeam: vi.fn(),
    conversations: vi.fn(),
    startConversation: vi.fn(),
    joinConversation: vi.fn(),
    setConversationStatus: vi.fn(),
    setConversationSensitive: vi.fn(),
    expiringConversations: vi.fn(),
    informationSystem: vi.fn(),
    startView: vi.fn(),
    appLockState: vi.fn(),
    setAppLockPin: vi.fn(),
    setAppLockIdle: vi.fn(),
    lockApp: vi.fn(),
    unlockApp: vi.fn(),
    unlockAppWithOs: vi.fn(),
    archiveToInformationSystem: vi.fn(),
    watchCareNetwork: vi.fn(),
    refreshCareNetwork: vi.fn(),
    searchDirectory: vi.fn(),
    setRelation: vi.fn(),
    inviteByEmail: vi.fn(),
    retrySend: vi.fn(),
    editUnsent: vi.fn(),
    discardUnsent: vi.fn(),
    watchSendProblems: vi.fn(),
    markRead: vi.fn(),
    notificationSettings: vi.fn(),
    setNotificationSettings: vi.fn(),
    conversationNotificationMode: vi.fn(),
    setConversationNotificationMode: vi.fn(),
    watchNotificationActivations: vi.fn(),
    deviceTrust: vi.fn(),
    enableRecovery: vi.fn(),
    recover: vi.fn(),
    ownDevices: vi.fn(),
    signOutDevice: vi.fn(),
    verifyThisDevice: vi.fn(),
    watchVerificationRequests: vi.fn(),
    acceptVerification: vi.fn(),
    confirmVerification: vi.fn(),
    cancelVerification: vi.fn(),
  };

  function reset() {
    nextSub = 0;
    channels.rooms.length = 0;
    channels.sync.length = 0;
    channels.timeline.length = 0;
    channels.onboarding.length = 0;
    channels.careNetwork.length = 0;
    channels.sendProblems.length = 0;
    channels.activations.length = 0;
    channels.verification.length = 0;
    channels.verificationRequests.length = 0;
    channels.careTeams.length = 0;
    channels.careTeamInvites.length = 0;
    channels.conversations.length = 0;
    channels.members.length = 0;
    delivered.clear();
    finishPending = null;
    for (const fn of Object.values(commands)) fn.mockReset();
    commands.login.mockResolvedValue(ok(aSession));
    commands.restoreSession.mockResolvedValue(ok(null));
    commands.logout.mockResolvedValue(ok(null));
    commands.loginOptions.mockResolvedValue(ok(noOrganisationLogin));
    // A first login stays pending until the test pushes progress and finishes it,
    // as Rust does while the user is in the browser.
    commands.firstLogin.mockImplementation(
      (ch: Ch<OnboardingProgress>) =>
        new Promise<Result<Onboarded, AppError>>((resolve) => {
          channels.onboarding.push(ch);
          finishPending = (result) => {
            finishPending = null;
            resolve(result);
          };
        }),
    );
    // Like Rust: the running login fails at its organisation_login step with login_cancelled.
    commands.cancelFirstLogin.mockImplementation(async () => {
      if (finishPending) {
        last(channels.onboarding, "first-login").onmessage(progress("organisation_login", "failed"));
        finishPending(err("login_cancelled", "cancelled by the user"));
      }
      return ok(null);
    });
    commands.relatedPersonLogin.mockResolvedValue(ok(aRelatedSession));
    // Like Rust: the code binds the address the last mail went to.
    let validating: string | null = null;
    commands.requestEmailValidation.mockImplementation(async (address: string) => {
      validating = address;
      return ok(null);
    });
    commands.confirmEmail.mockImplementation(async () =>
      validating === null ? err("no_email_validation", "no mail requested") : ok(validating),
    );
    commands.watchRooms.mockImplementation(async (ch: Ch<ListDiff<RoomSummary>[]>) => {
      channels.rooms.push(ch);
      return ok(`rooms-${++nextSub}`);
    });
    commands.watchSync.mockImplementation(async (ch: Ch<SyncStatus>) => {
      channels.sync.push(ch);
      return ok(`sync-${++nextSub}`);
    });
    commands.watchTimeline.mockImplementation(async (roomId: string, ch: Ch<ListDiff<TimelineItem>[]>) => {
      const id = `timeline-${roomId}-${++nextSub}`;
      channels.timeline.push({ roomId, id, channel: ch });
      return ok(id);
    });
    commands.unsubscribe.mockResolvedValue(ok(null));
    // A verified device with recovery set up: no banner unless a test says otherwise.
    commands.deviceTrust.mockResolvedValue(ok(verifiedDevice));
    commands.ownDevices.mockResolvedValue(ok([]));
    commands.signOutDevice.mockResolvedValue(ok(null));
    commands.confirmVerification.mockResolvedValue(ok(null));
    commands.cancelVerification.mockResolvedValue(ok(null));
    commands.watchVerificationRequests.mockImplementation(async (ch: Ch<VerificationStep>) => {
      channels.verificationRequests.push(ch);
      return ok(`verification-requests-${++nextSub}`);
    });
    const flow = async (ch: Ch<VerificationStep>) => {
      channels.verification.push(ch);
      return ok(`verification-${++nextSub}`);
    };
    commands.verifyThisDevice.mockImplementation(flow);
    commands.acceptVerification.mockImplementation(async (_flowId: string, ch: Ch<VerificationStep>) => flow(ch));
    commands.sendText.mockResolvedValue(ok(null));
    commands.sendMessage.mockResolvedValue(ok(null));
    commands.saveAttachment.mockImplementation(async (_roomId: string, eventId: string, index: number) =>
      ok(`/home/an/Downloads/${eventId.slice(1)}-${index}`),
    );
    commands.redact.mockResolvedValue(ok(null));
    commands.paginateBack.mockResolvedValue(ok(false));
    commands.careTeams.mockResolvedValue(ok([]));
    commands.careTeamInvites.mockResolvedValue(ok([]));
    // The streams start as Rust's do: a reset with what the request of the
    // same name answers now. `pushCareTeams` and friends send the next batch.
    commands.watchCareTeams.mockImplementation(async (ch: Ch<ListDiff<CareTeam>[]>) => {
      const first = await commands.careTeams();
      if (first.status === "error") return first;
      channels.careTeams.push(ch);
      ch.onmessage([{ op: "reset", values: first.data }]);
      return ok(`care-teams-${++nextSub}`);
    });
    commands.watchCareTeamInvites.mockImplementation(async (ch: Ch<ListDiff<CareTeamInvite>[]>) => {
      const first = await commands.careTeamInvites();
      if (first.status === "error") return first;
      channels.careTeamInvites.push(ch);
      ch.onmessage([{ op: "reset", values: first.data }]);
      return ok(`care-team-invites-${++nextSub}`);
    });
    commands.watchConversations.mockImplementation(
      async (spaceId: string, ch: Ch<ListDiff<ConversationSummary>[]>) => {
        const first = await commands.conversations(spaceId);
        if (first.status === "error") return first;
        channels.conversations.push({ spaceId, channel: ch });
        ch.onmessage([{ op: "reset", values: first.data }]);
        return ok(`conversations-${++nextSub}`);
      },
    );
    commands.watchCareTeamMembers.mockImplementation(async (spaceId: string, ch: Ch<ListDiff<Member>[]>) => {
      const first = await commands.careTeamMembers(spaceId);
      if (first.status === "error") return first;
      channels.members.push({ spaceId, channel: ch });
      ch.onmessage([{ op: "reset", values: first.data }]);
      return ok(`members-${++nextSub}`);
    });
    commands.createCareTeam.mockImplementation(async (client: { displayName: string }) =>
      ok(careTeam(`!space-${++nextSub}`, client.displayName)),
    );
    commands.acceptCareTeamInvite.mockImplementation(async (spaceId: string) => ok(careTeam(spaceId, "")));
    commands.careTeamMembers.mockResolvedValue(ok([]));
    commands.inviteToCareTeam.mockResolvedValue(ok(null));
    commands.conversations.mockResolvedValue(ok([]));
    commands.startConversation.mockImplementation(async () => ok(`!conversation-${++nextSub}`));
    commands.joinConversation.mockResolvedValue(ok(null));
    commands.setConversationStatus.mockResolvedValue(ok(null));
    commands.setConversationSensitive.mockResolvedValue(ok(null));
    commands.expiringConversations.mockResolvedValue(ok([]));
    commands.informationSystem.mockResolvedValue(ok(null));
    commands.startView.mockResolvedValue(ok("conversations"));
    // The organisation's lock is off unless a test turns it on.
    commands.appLockState.mockResolvedValue(ok(lockState({ enabled: false })));
    commands.setAppLockPin.mockResolvedValue(ok(lockState({ pinSet: true })));
    commands.setAppLockIdle.mockImplementation(async (seconds: number) => ok(lockState({ idleSeconds: seconds })));
    commands.lockApp.mockResolvedValue(ok(lockState({ pinSet: true, locked: true })));
    commands.unlockApp.mockResolvedValue(ok(lockState({ pinSet: true })));
    commands.unlockAppWithOs.mockResolvedValue(ok(lockState({ pinSet: true, osUnlock: true })));
    commands.archiveToInformationSystem.mockImplementation(async (roomId: string) =>
      ok({ roomId, messages: 4, files: 6, resources: 17, undecryptable: 0 }),
    );
    // Like Rust, the network stream opens at once; the test pushes what it delivers.
    commands.watchCareNetwork.mockImplementation(async (spaceId: string, ch: Ch<CareNetwork>) => {
      const id = `care-network-${spaceId}-${++nextSub}`;
      channels.careNetwork.push({ spaceId, id, channel: ch });
      return ok(id);
    });
    // A refresh answers what was last delivered for the client (nothing changed in the directories).
    commands.refreshCareNetwork.mockImplementation(async (spaceId: string) =>
      ok(delivered.get(spaceId) ?? careNetwork(spaceId, [])),
    );
    commands.searchDirectory.mockResolvedValue(ok([]));
    commands.setRelation.mockResolvedValue(ok(null));
    commands.inviteByEmail.mockResolvedValue(ok(null));
    commands.retrySend.mockResolvedValue(ok(null));
    commands.editUnsent.mockResolvedValue(ok(null));
    commands.discardUnsent.mockResolvedValue(ok(null));
    commands.watchSendProblems.mockImplementation(async (ch: Ch<SendProblem>) => {
      channels.sendProblems.push(ch);
      return ok(`send-problems-${++nextSub}`);
    });
    commands.markRead.mockResolvedValue(ok(null));
    commands.notificationSettings.mockResolvedValue(ok(defaultNotificationSettings));
    commands.setNotificationSettings.mockResolvedValue(ok(null));
    commands.conversationNotificationMode.mockResolvedValue(ok("all"));
    commands.setConversationNotificationMode.mockResolvedValue(ok(null));
    commands.watchNotificationActivations.mockImplementation(async (ch: Ch<string>) => {
      channels.activations.push(ch);
      return ok(`activations-${++nextSub}`);
    });
  }

  function last<T>(list: T[], what: string): T {
    const item = list[list.length - 1];
    if (!item) throw new Error(`the UI opened no ${what} stream`);
    return item;
  }

  return {
    commands,
    channels,
    reset,
    /** Push one batch of care-team diffs to the latest care-team stream, as Rust would after a sync. */
    pushCareTeams(diffs: ListDiff<CareTeam>[]) {
      last(channels.careTeams, "care-teams").onmessage(diffs);
    },
    pushCareTeamInvites(diffs: ListDiff<CareTeamInvite>[]) {
      last(channels.careTeamInvites, "care-team-invites").onmessage(diffs);
    },
    /** Push conversation diffs to the latest stream of this care team. */
    pushConversations(spaceId: string, diffs: ListDiff<ConversationSummary>[]) {
      const found = channels.conversations.filter((c) => c.spaceId === spaceId).map((c) => c.channel);
      last(found, `conversations of ${spaceId}`).onmessage(diffs);
    },
    pushMembers(spaceId: string, diffs: ListDiff<Member>[]) {
      const found = channels.members.filter((c) => c.spaceId === spaceId).map((c) => c.channel);
      last(found, `members of ${spaceId}`).onmessage(diffs);
    },
    /** Push one batch of room-list diffs, as Rust would. */
    pushRooms(diffs: ListDiff<RoomSummary>[]) {
      last(channels.rooms, "rooms").onmessage(diffs);
    },
    /** Send progress messages of the latest first login, as Rust would. */
    pushProgress(...messages: OnboardingProgress[]) {
      const ch = last(channels.onboarding, "first-login");
      for (const m of messages) ch.onmessage(m);
    },
    /** Answer the pending first login. */
    finishFirstLogin(result: Result<Onboarded, AppError>) {
      if (!finishPending) throw new Error("no first login is pending");
      finishPending(result);
    },
    /** The next first login reports `messages` at once, then answers `result`. */
    scriptFirstLogin(messages: OnboardingProgress[], result: Result<Onboarded, AppError>) {
      commands.firstLogin.mockImplementationOnce(async (ch: Ch<OnboardingProgress>) => {
        channels.onboarding.push(ch);
        for (const m of messages) ch.onmessage(m);
        return result;
      });
    },
    /** A step of the latest verification flow this UI opened. */
    pushVerification(step: VerificationStep) {
      last(channels.verification, "verification").onmessage(step);
    },
    /** Another device of this person asks to be verified. */
    pushVerificationRequest(step: VerificationStep) {
      last(channels.verificationRequests, "verification-requests").onmessage(step);
    },
    pushSync(status: SyncStatus) {
      last(channels.sync, "sync").onmessage(status);
    },
    /** A message failed for good, as Rust reports it. */
    pushSendProblem(problem: SendProblem) {
      last(channels.sendProblems, "send-problems").onmessage(problem);
    },
    /** The user clicked a desktop notification of `roomId`. */
    pushActivation(roomId: string) {
      last(channels.activations, "notification-activations").onmessage(roomId);
    },
    /** Deliver a care network on the latest stream (or the latest one of `spaceId`), as Rust would. */
    pushCareNetwork(network: CareNetwork, spaceId?: string) {
      const streams = spaceId ? channels.careNetwork.filter((s) => s.spaceId === spaceId) : channels.careNetwork;
      delivered.set(network.spaceId, network);
      last(streams, "care-network").channel.onmessage(network);
    },
    /** Push a timeline batch into the latest stream (or the latest one of `roomId`). */
    pushTimeline(diffs: ListDiff<TimelineItem>[], roomId?: string) {
      const streams = roomId ? channels.timeline.filter((s) => s.roomId === roomId) : channels.timeline;
      last(streams, "timeline").channel.onmessage(diffs);
    },
  };
}

export const backend = createBackend();
backend.reset();

export const bindingsModule = { commands: backend.commands };

/** An app-lock state: on, 5 minutes, no PIN, unlocked, unless overridden. */
export function lockState(over: Partial<AppLockState> = {}): AppLockState {
  return {
    enabled: true,
    pinSet: false,
    locked: false,
    idleSeconds: 300,
    maxIdleSeconds: 300,
    attemptsLeft: 3,
    retryInSeconds: 0,
    osUnlock: false,
    ...over,
  };
}
