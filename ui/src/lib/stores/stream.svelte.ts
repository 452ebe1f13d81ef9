import { applyDiffs, DiffError } from "$lib/diff";
import type { AppError, ListDiff, Result, Subscription } from "$lib/ipc";

/** Opens a Rust stream whose messages go to `onMessage`, e.g. `(on) => ipc.watchRooms(on)`. */
export type StartStream<M> = (onMessage: (message: M) => void) => Promise<Result<Subscription, AppError>>;

/**
 * At most one live subscription to a Rust stream. Each `open` supersedes the
 * previous one and `close` ends it; replies and messages that belong to a
 * superseded open are dropped, so a slow old stream never leaks into the new one.
 */
export class LatestStream<M> {
  #sub: Subscription | null = null;
  #generation = 0;

  /** Changes on every open and close: compare it to drop replies that arrive too late. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Close the previous subscription and subscribe with `start`. `onError` hears a
   * failed start unless it was superseded. Resolves true when this stream is live.
   */
  async open(start: StartStream<M>, onMessage: (message: M) => void, onError?: (e: AppError) => void): Promise<boolean> {
    const generation = ++this.#generation;
    const previous = this.#sub;
    this.#sub = null;
    if (previous) void previous.close();

    const res = await start((message) => {
      if (generation === this.#generation) onMessage(message);
    });
    if (generation !== this.#generation) {
      // Superseded while subscribing: nobody else holds this one to close it.
      if (res.status === "ok") void res.data.close();
      return false;
    }
    if (res.status === "error") {
      onError?.(res.error);
      return false;
    }
    this.#sub = res.data;
    return true;
  }

  /** Stop delivery now and unsubscribe; a pending open is dropped when it resolves. */
  async close(): Promise<void> {
    this.#generation++;
    const sub = this.#sub;
    this.#sub = null;
    if (sub) await sub.close();
  }
}

/**
 * Follows a Rust list stream (a `reset`, then diffs) into a copy of its own:
 * `onList` gets the whole list after each batch. A batch that does not fit
 * means we are out of step with Rust: the stream is opened again, and its
 * new reset starts a fresh copy.
 */
export function followList<T>(
  stream: LatestStream<ListDiff<T>[]>,
  start: StartStream<ListDiff<T>[]>,
  onList: (list: T[]) => void,
  onError: (e: AppError) => void,
): Promise<boolean> {
  let list: T[] = [];
  return stream.open(
    start,
    (diffs) => {
      try {
        list = applyDiffs(list, diffs);
      } catch (e) {
        if (!(e instanceof DiffError)) throw e;
        console.error(e);
        void followList(stream, start, onList, onError);
        return;
      }
      onList(list);
    },
    onError,
  );
}

/**
 * A list mirroring a Rust stream of `ListDiff` batches (a `reset`, then diffs).
 * A store extends it and calls `subscribe` with its `ipc.watch*` command.
 */
export class DiffListStream<T> {
  items = $state.raw<T[]>([]);
  /** False until the first batch (the reset) arrived: show skeletons meanwhile. */
  loaded = $state(false);
  /** Subscribing failed. */
  error = $state.raw<AppError | null>(null);

  /** The last subscriber's error handler, kept to resubscribe with. */
  protected onError: ((e: AppError) => void) | null = null;
  #stream = new LatestStream<ListDiff<T>[]>();
  #start: StartStream<ListDiff<T>[]> | null = null;

  apply(diffs: ListDiff<T>[]): void {
    this.items = applyDiffs(this.items, diffs);
    this.loaded = true;
  }

  /** See `LatestStream.generation`. */
  protected get generation(): number {
    return this.#stream.generation;
  }

  /** Replace the current subscription. `onError` hears start failures (e.g. session_lost). */
  protected async subscribe(start: StartStream<ListDiff<T>[]>, onError?: (e: AppError) => void): Promise<void> {
    this.onError = onError ?? null;
    this.#start = start;
    const live = await this.#stream.open(start, (diffs) => this.#receive(diffs), (e) => {
      this.error = e;
      this.onError?.(e);
    });
    if (live) this.error = null;
  }

  /** Unsubscribe and forget the list. */
  protected unsubscribe(): Promise<void> {
    const closing = this.#stream.close();
    this.clearList();
    return closing;
  }

  protected clearList(): void {
    this.items = [];
    this.loaded = false;
    this.error = null;
  }

  /**
   * Called when a batch did not fit: we are out of step with Rust. Subscribing
   * again gets a fresh reset. Override to reset more than the list.
   */
  protected resync(): void {
    if (this.#start) void this.subscribe(this.#start, this.onError ?? undefined);
  }

  #receive(diffs: ListDiff<T>[]): void {
    try {
      this.apply(diffs);
    } catch (e) {
      if (!(e instanceof DiffError)) throw e;
      console.error(e);
      this.resync();
    }
  }
}
