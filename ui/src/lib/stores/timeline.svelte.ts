import { applyDiffs, DiffError } from "$lib/diff";
import { ipc, type AppError, type ListDiff, type Subscription, type TimelineItem } from "$lib/ipc";

export const PAGE_SIZE = 20;

/**
 * The timeline of the one open room. Items come only from Rust, including the
 * local echo of what we send (sendState "sending"); nothing is fabricated here.
 */
export class TimelineStore {
  roomId = $state<string | null>(null);
  items = $state.raw<TimelineItem[]>([]);
  loaded = $state(false);
  /** Rust said pagination reached the room's first event. */
  reachedStart = $state(false);
  paginating = $state(false);
  /** Opening the room failed. */
  error = $state.raw<AppError | null>(null);
  /** The last "load older" failed. */
  paginateError = $state.raw<AppError | null>(null);

  #sub: Subscription | null = null;
  #generation = 0;
  #onError: ((e: AppError) => void) | null = null;

  apply(diffs: ListDiff<TimelineItem>[]): void {
    this.items = applyDiffs(this.items, diffs);
    this.loaded = true;
  }

  /** Show `roomId`: unsubscribe the previous room's stream, subscribe to this one. */
  async open(roomId: string, onError?: (e: AppError) => void): Promise<void> {
    this.#onError = onError ?? null;
    const generation = ++this.#generation;
    const previous = this.#sub;
    this.#sub = null;
    this.roomId = roomId;
    this.items = [];
    this.loaded = false;
    this.reachedStart = false;
    this.paginating = false;
    this.error = null;
    this.paginateError = null;
    if (previous) void previous.close();

    const res = await ipc.watchTimeline(roomId, (diffs) => this.#receive(generation, roomId, diffs));
    if (generation !== this.#generation) {
      // The user moved on while we were subscribing.
      if (res.status === "ok") void res.data.close();
      return;
    }
    if (res.status === "error") {
      this.error = res.error;
      this.#onError?.(res.error);
      return;
    }
    this.#sub = res.data;
  }

  /** Close the open room (back to the list, logout). */
  async close(): Promise<void> {
    this.#generation++;
    const sub = this.#sub;
    this.#sub = null;
    this.roomId = null;
    this.items = [];
    this.loaded = false;
    this.reachedStart = false;
    this.paginating = false;
    this.error = null;
    this.paginateError = null;
    if (sub) await sub.close();
  }

  /** Ask Rust for older events; they arrive through the stream as diffs. */
  async loadOlder(count = PAGE_SIZE): Promise<void> {
    const roomId = this.roomId;
    if (!roomId || this.paginating || this.reachedStart) return;
    const generation = this.#generation;
    this.paginating = true;
    this.paginateError = null;
    const res = await ipc.paginateBack(roomId, count);
    if (generation !== this.#generation) return;
    this.paginating = false;
    if (res.status === "ok") this.reachedStart = res.data;
    else {
      this.paginateError = res.error;
      this.#onError?.(res.error);
    }
  }

  #receive(generation: number, roomId: string, diffs: ListDiff<TimelineItem>[]): void {
    if (generation !== this.#generation) return;
    try {
      this.apply(diffs);
    } catch (e) {
      if (!(e instanceof DiffError)) throw e;
      console.error(e);
      void this.open(roomId, this.#onError ?? undefined);
    }
  }
}

export const timeline = new TimelineStore();
