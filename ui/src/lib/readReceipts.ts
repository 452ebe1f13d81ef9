// Read receipts for the conversation on screen: Rust marks everything up to
// the latest event read. Calls are debounced (a burst of new items is one
// receipt) and a failure is only logged: reading must never wait for it.
import { ipc } from "$lib/ipc";

export const MARK_READ_DELAY_MS = 500;

export class ReadReceipts {
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly delayMs = MARK_READ_DELAY_MS) {}

  /** Mark `roomId` read after the delay, unless asked again (or cancelled) before. */
  schedule(roomId: string): void {
    this.cancel();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void ipc.markRead(roomId).then((res) => {
        // The code only: no ids or content in the log.
        if (res.status === "error") console.warn(`markRead failed: ${res.error.code}`);
      });
    }, this.delayMs);
  }

  /** The conversation is no longer shown: a pending receipt is not sent. */
  cancel(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/** Whether the user can be reading right now (the window has focus). */
export function windowFocused(): boolean {
  return typeof document !== "undefined" && document.hasFocus();
}
