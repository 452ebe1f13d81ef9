import { ipc, type AppError, type CareTeam, type CareTeamInvite, type ClientRef, type ListDiff, type Result } from "$lib/ipc";
import { compareAttention } from "$lib/attention";
import { followList, LatestStream } from "./stream.svelte";

/**
 * By "needs attention" (urgent or mentioning unread, then unread, then the most
 * recent activity), then by the client's name, Dutch collation ("de Boer" next to "Boer").
 */
export function sortCareTeams(teams: CareTeam[]): CareTeam[] {
  return [...teams].sort(
    (a, b) => compareAttention(a, b) || a.clientName.localeCompare(b.clientName, "nl", { sensitivity: "base" }),
  );
}

/**
 * The care teams (one per client) on this device and the invitations to new
 * ones, as Rust streams them: a reset, then diffs after each sync that changed
 * a room (a join, an invite, a new message). `refresh` reads the same lists as
 * a request, for an answer at once after an action. Each team carries its
 * conversations' unread counts and last activity as Rust sums them.
 */
export class CareTeamsStore {
  /** Sorted by needs attention, then by name. */
  teams = $state.raw<CareTeam[]>([]);
  invites = $state.raw<CareTeamInvite[]>([]);
  /** False until the first answer: show skeletons meanwhile. */
  loaded = $state(false);
  /** The last refresh failed; what was loaded before stays shown. */
  error = $state.raw<AppError | null>(null);

  #onError: ((e: AppError) => void) | null = null;
  #generation = 0;
  #teamsStream = new LatestStream<ListDiff<CareTeam>[]>();
  #invitesStream = new LatestStream<ListDiff<CareTeamInvite>[]>();
  /** The lists exactly as Rust streamed them, and whether the teams' reset came. */
  #streamed: CareTeam[] = [];
  #streamedInvites: CareTeamInvite[] = [];
  #streamedLoaded = false;
  #live = false;

  apply(teams: CareTeam[], invites: CareTeamInvite[]): void {
    this.teams = sortCareTeams(teams);
    // An invitation to a team already joined is not pending any more.
    const joined = new Set(teams.map((t) => t.spaceId));
    this.invites = invites.filter((i) => !joined.has(i.spaceId));
    this.loaded = true;
  }

  /** Follow Rust's streams (idempotent while they run). */
  async start(onError?: (e: AppError) => void): Promise<void> {
    this.#onError = onError ?? null;
    if (this.#live) return;
    this.#live = true;
    await Promise.all([this.#openTeams(), this.#openInvites()]);
  }

  /** Stop following but keep what is shown (the tab was left; `start` resumes). */
  pause(): void {
    this.#live = false;
    void this.#teamsStream.close();
    void this.#invitesStream.close();
  }

  /** Stop following and forget everything (e.g. at logout). */
  stop(): void {
    this.pause();
    this.#streamed = [];
    this.#streamedInvites = [];
    this.#streamedLoaded = false;
    this.#generation++;
    this.teams = [];
    this.invites = [];
    this.loaded = false;
    this.error = null;
  }

  #openTeams(): Promise<boolean> {
    const shown = (teams: CareTeam[]) => {
      this.#streamed = teams;
      this.#streamedLoaded = true;
      this.#showStreamed();
    };
    return followList(this.#teamsStream, (on) => ipc.watchCareTeams(on), shown, (e) => this.#failed(e));
  }

  #openInvites(): Promise<boolean> {
    const shown = (invites: CareTeamInvite[]) => {
      this.#streamedInvites = invites;
      if (this.#streamedLoaded) this.#showStreamed();
    };
    return followList(this.#invitesStream, (on) => ipc.watchCareTeamInvites(on), shown, (e) => this.#failed(e));
  }

  /** What Rust streamed, plus teams an action added that the stream does not have yet. */
  #showStreamed(): void {
    this.#generation++; // a request under way is older than this
    this.error = null;
    const streamed = new Set(this.#streamed.map((t) => t.spaceId));
    const added = this.teams.filter((t) => this.#addedLocally.has(t.spaceId) && !streamed.has(t.spaceId));
    for (const id of streamed) this.#addedLocally.delete(id);
    this.apply([...this.#streamed, ...added], this.#streamedInvites);
  }

  #failed(e: AppError): void {
    this.error = e;
    this.#onError?.(e);
  }

  #addedLocally = new Set<string>();

  async refresh(): Promise<void> {
    const generation = this.#generation;
    const [teams, invites] = await Promise.all([ipc.careTeams(), ipc.careTeamInvites()]);
    if (generation !== this.#generation) return;
    if (teams.status === "error" || invites.status === "error") {
      const error = teams.status === "error" ? teams.error : (invites as { error: AppError }).error;
      this.error = error;
      this.#onError?.(error);
      return;
    }
    this.error = null;
    this.apply(teams.data, invites.data);
  }

  async accept(spaceId: string): Promise<Result<CareTeam, AppError>> {
    const res = await ipc.acceptCareTeamInvite(spaceId);
    if (res.status === "ok") {
      this.#addLocally(res.data);
      this.invites = this.invites.filter((i) => i.spaceId !== spaceId);
    }
    return res;
  }

  async create(client: ClientRef): Promise<Result<CareTeam, AppError>> {
    const res = await ipc.createCareTeam(client);
    if (res.status === "ok") this.#addLocally(res.data);
    return res;
  }

  /** Rust answered with the team: show it at once, the stream confirms it. */
  #addLocally(team: CareTeam): void {
    this.#generation++; // a refresh already under way may not know the team yet
    this.#addedLocally.add(team.spaceId);
    this.loaded = true;
    if (!this.teams.some((t) => t.spaceId === team.spaceId)) {
      this.teams = sortCareTeams([...this.teams, team]);
    }
  }
}

export const careTeams = new CareTeamsStore();
