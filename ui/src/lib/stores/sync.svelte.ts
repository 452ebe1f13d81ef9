import { ipc, type AppError, type Subscription, type SyncStatus } from "$lib/ipc";

/** The sync service's state, for the offline banner. */
export class SyncStore {
  status = $state<SyncStatus | null>(null);
  #sub: Subscription | null = null;
  #generation = 0;

  apply(status: SyncStatus): void {
    this.status = status;
  }

  get offline(): boolean {
    return this.status === "offline" || this.status === "error";
  }

  async start(onError?: (e: AppError) => void): Promise<void> {
    const generation = ++this.#generation;
    const res = await ipc.watchSync((status) => {
      if (generation === this.#generation) this.apply(status);
    });
    if (generation !== this.#generation) {
      if (res.status === "ok") void res.data.close();
      return;
    }
    if (res.status === "error") {
      onError?.(res.error);
      return;
    }
    this.#sub = res.data;
  }

  async stop(): Promise<void> {
    this.#generation++;
    const sub = this.#sub;
    this.#sub = null;
    this.status = null;
    if (sub) await sub.close();
  }
}

export const sync = new SyncStore();
