import { ipc, type AppError, type TimelineItem } from "$lib/ipc";
import { DiffListStream } from "./stream.svelte";

export const PAGE_SIZE = 20;

/**
 * The timeline of the one open room. Items come only from Rust, including the
 * local echo of what we send (sendState "sending"); nothing is fabricated here.
 */
export class TimelineStore extends DiffListStream<TimelineItem> {
  roomId = $state<string | null>(null);
  /** Rust said pagination reached the room's first event. */
  reachedStart = $state(false);
  paginating = $state(false);
  /** The last "load older" failed. */
  paginateError = $state.raw<AppError | null>(null);

  /** Show `roomId`: unsubscribe the previous room's stream, subscribe to this one. */
  open(roomId: string, onError?: (e: AppError) => void): Promise<void> {
    this.roomId = roomId;
    this.clearList();
    this.#resetPaging();
    return this.subscribe((onBatch) => ipc.watchTimeline(roomId, onBatch), onError);
  }

  /** Close the open room (back to the list, logout). */
  close(): Promise<void> {
    this.roomId = null;
    this.#resetPaging();
    return this.unsubscribe();
  }

  /** Ask Rust for older events; they arrive through the stream as diffs. */
  async loadOlder(count = PAGE_SIZE): Promise<void> {
    const roomId = this.roomId;
    if (!roomId || this.paginating || this.reachedStart) return;
    const generation = this.generation;
    this.paginating = true;
    this.paginateError = null;
    const res = await ipc.paginateBack(roomId, count);
    if (generation !== this.generation) return;
    this.paginating = false;
    if (res.status === "ok") this.reachedStart = res.data;
    else {
      this.paginateError = res.error;
      this.onError?.(res.error);
    }
  }

  /** Out of step with Rust: reopen the room from scratch, pagination state included. */
  protected override resync(): void {
    if (this.roomId) void this.open(this.roomId, this.onError ?? undefined);
  }

  #resetPaging(): void {
    this.reachedStart = false;
    this.paginating = false;
    this.paginateError = null;
  }
}

export const timeline = new TimelineStore();
