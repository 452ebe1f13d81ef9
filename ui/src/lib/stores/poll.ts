// Refreshing request/response data on an interval, for the commands that have
// no stream yet (care teams, conversations). One Poller per store keeps "how it
// stays fresh" in one place, so a stream can replace it later.
export const POLL_INTERVAL_MS = 5_000;

function pageHidden(): boolean {
  return typeof document !== "undefined" && document.visibilityState === "hidden";
}

export class Poller {
  #timer: ReturnType<typeof setInterval> | null = null;
  #running: Promise<void> | null = null;
  #queued: Promise<void> | null = null;
  #onVisible = () => {
    if (!pageHidden()) void this.tick();
  };

  constructor(
    private readonly run: () => Promise<void>,
    private readonly intervalMs = POLL_INTERVAL_MS,
  ) {}

  get active(): boolean {
    return this.#timer !== null;
  }

  /** Run now, then every interval while the page is visible. Idempotent. See `tick` for `fresh`. */
  start(fresh = false): Promise<void> {
    if (!this.#timer) {
      this.#timer = setInterval(() => {
        if (!pageHidden()) void this.tick();
      }, this.intervalMs);
      if (typeof document !== "undefined") document.addEventListener("visibilitychange", this.#onVisible);
    }
    return this.tick(fresh);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    if (typeof document !== "undefined") document.removeEventListener("visibilitychange", this.#onVisible);
  }

  /**
   * Refresh now. A plain tick while a refresh is under way queues one more after
   * it (further ticks join that one), so timers never pile up requests. A `fresh`
   * tick starts at once: for when the answer under way is stale anyway (the
   * store dropped it after a change) and should not hold the new one up.
   */
  tick(fresh = false): Promise<void> {
    if (this.#running && !fresh) {
      this.#queued ??= this.#running.then(() => {
        this.#queued = null;
        return this.tick();
      });
      return this.#queued;
    }
    const running: Promise<void> = this.run().finally(() => {
      if (this.#running === running) this.#running = null;
    });
    this.#running = running;
    return running;
  }
}
