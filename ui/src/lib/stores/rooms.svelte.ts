import { applyDiffs, DiffError } from "$lib/diff";
import { ipc, type AppError, type ListDiff, type RoomSummary, type Subscription } from "$lib/ipc";

/** The room list, in the order Rust sends it (Rust sorts). */
export class RoomsStore {
  items = $state.raw<RoomSummary[]>([]);
  /** False until the first batch (the reset) arrived: show skeletons meanwhile. */
  loaded = $state(false);
  error = $state.raw<AppError | null>(null);

  #sub: Subscription | null = null;
  #generation = 0;
  #onError: ((e: AppError) => void) | null = null;

  apply(diffs: ListDiff<RoomSummary>[]): void {
    this.items = applyDiffs(this.items, diffs);
    this.loaded = true;
  }

  /** Subscribe to Rust's room list. `onError` hears start failures (e.g. session_lost). */
  async start(onError?: (e: AppError) => void): Promise<void> {
    this.#onError = onError ?? null;
    const generation = ++this.#generation;
    const res = await ipc.watchRooms((diffs) => this.#receive(generation, diffs));
    if (generation !== this.#generation) {
      if (res.status === "ok") void res.data.close();
      return;
    }
    if (res.status === "error") {
      this.error = res.error;
      this.#onError?.(res.error);
      return;
    }
    this.error = null;
    this.#sub = res.data;
  }

  /** Unsubscribe and forget everything (e.g. at logout). */
  async stop(): Promise<void> {
    this.#generation++;
    const sub = this.#sub;
    this.#sub = null;
    this.items = [];
    this.loaded = false;
    this.error = null;
    if (sub) await sub.close();
  }

  #receive(generation: number, diffs: ListDiff<RoomSummary>[]): void {
    if (generation !== this.#generation) return;
    try {
      this.apply(diffs);
    } catch (e) {
      if (!(e instanceof DiffError)) throw e;
      // Out of step with Rust: resubscribe, which starts again with a reset.
      console.error(e);
      const sub = this.#sub;
      this.#sub = null;
      void sub?.close();
      void this.start(this.#onError ?? undefined);
    }
  }
}

export const rooms = new RoomsStore();
