import { ipc, type AppError, type SendProblem } from "$lib/ipc";
import { LatestStream } from "./stream.svelte";

/** A problem as the notice shows it, with a key to dismiss it by. */
export interface ShownProblem extends SendProblem {
  key: string;
}

/** One notice per conversation: the messages themselves wait there, each with its own reason. */

/**
 * Messages that failed for good, from Rust's send-problems stream, until the
 * user dismisses them. Rust already re-enabled the room's queue; this only
 * makes sure the user hears about it, wherever they are in the app.
 */
export class SendProblemsStore {
  items = $state.raw<ShownProblem[]>([]);
  #stream = new LatestStream<SendProblem>();

  apply(problem: SendProblem): void {
    // Another refusal in the same conversation replaces its notice (with the latest reason).
    const key = problem.roomId;
    this.items = [...this.items.filter((p) => p.key !== key), { ...problem, key }];
  }

  dismiss(key: string): void {
    this.items = this.items.filter((p) => p.key !== key);
  }

  /** The user opened the conversation: its notices have done their work. */
  dismissRoom(roomId: string): void {
    this.items = this.items.filter((p) => p.roomId !== roomId);
  }

  async start(onError?: (e: AppError) => void): Promise<void> {
    await this.#stream.open((on) => ipc.watchSendProblems(on), (p) => this.apply(p), onError);
  }

  async stop(): Promise<void> {
    const closing = this.#stream.close();
    this.items = [];
    await closing;
  }
}

export const sendProblems = new SendProblemsStore();
