import { ipc, type AppError, type CareTeam, type CareTeamInvite, type ClientRef, type Result } from "$lib/ipc";
import { compareAttention } from "$lib/attention";
import { Poller } from "./poll";

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
 * ones. Request/response for now: `refresh` is the one place that reads them,
 * called by the poller and after every action. Each team carries its
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
  #poller = new Poller(() => this.refresh());

  apply(teams: CareTeam[], invites: CareTeamInvite[]): void {
    this.teams = sortCareTeams(teams);
    // An invitation to a team already joined is not pending any more.
    const joined = new Set(teams.map((t) => t.spaceId));
    this.invites = invites.filter((i) => !joined.has(i.spaceId));
    this.loaded = true;
  }

  /** Load now and keep refreshing while the page is visible. */
  start(onError?: (e: AppError) => void): Promise<void> {
    this.#onError = onError ?? null;
    return this.#poller.start();
  }

  /** Stop refreshing but keep what is shown (the tab was left; `start` resumes). */
  pause(): void {
    this.#poller.stop();
  }

  /** Stop refreshing and forget everything (e.g. at logout). */
  stop(): void {
    this.#poller.stop();
    this.#generation++;
    this.teams = [];
    this.invites = [];
    this.loaded = false;
    this.error = null;
  }

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
      void this.#poller.tick(true);
    }
    return res;
  }

  async create(client: ClientRef): Promise<Result<CareTeam, AppError>> {
    const res = await ipc.createCareTeam(client);
    if (res.status === "ok") {
      this.#addLocally(res.data);
      void this.#poller.tick(true);
    }
    return res;
  }

  /** Rust answered with the team: show it at once, the refresh confirms it. */
  #addLocally(team: CareTeam): void {
    this.#generation++; // a refresh already under way may not know the team yet
    this.loaded = true;
    if (!this.teams.some((t) => t.spaceId === team.spaceId)) {
      this.teams = sortCareTeams([...this.teams, team]);
    }
  }
}

export const careTeams = new CareTeamsStore();
