import {
  ipc,
  type AppError,
  type CareNetwork,
  type DirectoryHit,
  type DirectorySearch,
  type NetworkParticipant,
  type Result,
  type Role,
} from "$lib/ipc";
import { sortParticipants } from "$lib/careNetwork";
import { LatestStream } from "./stream.svelte";

/**
 * The care network of the one selected client: who is involved and who is away
 * now. A Rust stream delivers the cached network at once and again after each
 * background read of the directories; `refresh` asks for a read now. Anything
 * that arrives for a client no longer selected is dropped.
 */
export class CareNetworkStore {
  spaceId = $state<string | null>(null);
  network = $state.raw<CareNetwork | null>(null);
  /** Subscribing failed (what was shown before stays). */
  error = $state.raw<AppError | null>(null);
  refreshing = $state(false);
  refreshError = $state.raw<AppError | null>(null);

  #stream = new LatestStream<CareNetwork>();
  #generation = 0;

  /** False until the first network arrived: show skeletons meanwhile. */
  get loaded(): boolean {
    return this.network !== null;
  }

  /** Sorted for people: client, practitioners, related persons; the away stay in place. */
  get participants(): NetworkParticipant[] {
    return this.network ? sortParticipants(this.network.participants) : [];
  }

  participant(userId: string | null): NetworkParticipant | null {
    if (!userId) return null;
    return this.network?.participants.find((p) => p.userId === userId) ?? null;
  }

  apply(network: CareNetwork): void {
    this.network = network;
  }

  /** Follow the network of `spaceId`; another client's network is forgotten first. */
  async open(spaceId: string, onError?: (e: AppError) => void): Promise<void> {
    if (spaceId !== this.spaceId) {
      this.#generation++;
      this.spaceId = spaceId;
      this.#clear();
    }
    const live = await this.#stream.open(
      (onNetwork) => ipc.watchCareNetwork(spaceId, onNetwork),
      (network) => this.apply(network),
      (e) => {
        this.error = e;
        onError?.(e);
      },
    );
    if (live) this.error = null;
  }

  /** Unsubscribe but keep what is shown (the tab was left; `open` resumes). */
  pause(): Promise<void> {
    return this.#stream.close();
  }

  /** Unsubscribe and forget the client (back to the client list, logout). */
  close(): Promise<void> {
    this.#generation++;
    this.spaceId = null;
    this.#clear();
    return this.#stream.close();
  }

  /** Read the directories again now. The answer replaces the network shown. */
  async refresh(): Promise<Result<CareNetwork, AppError>> {
    const spaceId = this.spaceId;
    if (!spaceId) return { status: "error", error: { code: "not_a_care_team", detail: "no care team selected" } };
    const generation = this.#generation;
    this.refreshing = true;
    this.refreshError = null;
    const res = await ipc.refreshCareNetwork(spaceId);
    if (generation !== this.#generation) return res;
    this.refreshing = false;
    if (res.status === "ok") this.apply(res.data);
    else this.refreshError = res.error;
    return res;
  }

  /** Search the directories (name, role, organisation). */
  search(query: DirectorySearch): Promise<Result<DirectoryHit[], AppError>> {
    return ipc.searchDirectory(query);
  }

  /** Record a related person's relation to the client; shown at once, confirmed by the next delivery. */
  async setRelation(userId: string, relation: string): Promise<Result<null, AppError>> {
    const spaceId = this.spaceId;
    if (!spaceId) return { status: "error", error: { code: "not_a_care_team", detail: "no care team selected" } };
    const res = await ipc.setRelation(spaceId, userId, relation);
    if (res.status === "ok" && this.network && this.spaceId === spaceId) {
      this.network = {
        ...this.network,
        participants: this.network.participants.map((p) => (p.userId === userId ? { ...p, relation } : p)),
      };
    }
    return res;
  }

  /**
   * Invite a related person or the client by e-mail (they have no account yet).
   * The invite shows under "Uitgenodigd per e-mail" once the network is read again.
   */
  async inviteByEmail(address: string, role: Role, relation: string | null): Promise<Result<null, AppError>> {
    const spaceId = this.spaceId;
    if (!spaceId) return { status: "error", error: { code: "not_a_care_team", detail: "no care team selected" } };
    return ipc.inviteByEmail(spaceId, address, role, relation);
  }

  #clear(): void {
    this.network = null;
    this.error = null;
    this.refreshing = false;
    this.refreshError = null;
  }
}

export const careNetwork = new CareNetworkStore();
