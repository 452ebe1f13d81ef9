import { ipc, type AppError, type RoomSummary } from "$lib/ipc";
import { DiffListStream } from "./stream.svelte";

/** The room list, in the order Rust sends it (Rust sorts). */
export class RoomsStore extends DiffListStream<RoomSummary> {
  /** Subscribe to Rust's room list. `onError` hears start failures (e.g. session_lost). */
  start(onError?: (e: AppError) => void): Promise<void> {
    return this.subscribe((onBatch) => ipc.watchRooms(onBatch), onError);
  }

  /** Unsubscribe and forget everything (e.g. at logout). */
  stop(): Promise<void> {
    return this.unsubscribe();
  }
}

export const rooms = new RoomsStore();
