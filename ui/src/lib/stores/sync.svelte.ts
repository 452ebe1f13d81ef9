import { ipc, type AppError, type SyncStatus } from "$lib/ipc";
import { LatestStream } from "./stream.svelte";

/** The sync service's state, for the offline banner. */
export class SyncStore {
  status = $state<SyncStatus | null>(null);
  #stream = new LatestStream<SyncStatus>();

  apply(status: SyncStatus): void {
    this.status = status;
  }

  get offline(): boolean {
    return this.status === "offline" || this.status === "error";
  }

  async start(onError?: (e: AppError) => void): Promise<void> {
    await this.#stream.open((onStatus) => ipc.watchSync(onStatus), (status) => this.apply(status), onError);
  }

  async stop(): Promise<void> {
    const closing = this.#stream.close();
    this.status = null;
    await closing;
  }
}

export const sync = new SyncStore();
