import { ipc, type AppError, type AppLockState } from "$lib/ipc";

/** What the user does that counts as being at the screen. */
const ACTIVITY = ["pointerdown", "pointermove", "keydown", "wheel", "touchstart"] as const;

/**
 * The app lock on this side: notices input, asks Kring to lock when the
 * idle time in force has passed, and unlocks with the PIN. Kring holds the
 * state (a restart with a PIN set starts locked); this store mirrors it.
 */
export class AppLockStore {
  state = $state.raw<AppLockState | null>(null);
  error = $state.raw<AppError | null>(null);
  busy = $state(false);
  #lastInput = Date.now();
  #timer: ReturnType<typeof setInterval> | null = null;
  #onInput = () => {
    this.#lastInput = Date.now();
  };

  get locked(): boolean {
    return this.state?.locked ?? false;
  }

  /** Lock on, but no PIN yet: Kring cannot lock, and says so. */
  get needsPin(): boolean {
    return !!this.state && this.state.enabled && !this.state.pinSet;
  }

  async start(checkEveryMs = 1000): Promise<void> {
    this.stop();
    this.#lastInput = Date.now();
    for (const kind of ACTIVITY) window.addEventListener(kind, this.#onInput, { passive: true, capture: true });
    this.#timer = setInterval(() => void this.#check(), checkEveryMs);
    await this.refresh();
  }

  stop(): void {
    for (const kind of ACTIVITY) window.removeEventListener(kind, this.#onInput, { capture: true });
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async refresh(): Promise<void> {
    const res = await ipc.appLockState();
    if (res.status === "ok") this.state = res.data;
  }

  async #check(): Promise<void> {
    const s = this.state;
    if (!s || !s.enabled || !s.pinSet || s.locked || this.busy) return;
    if (Date.now() - this.#lastInput >= s.idleSeconds * 1000) await this.lock();
  }

  async lock(): Promise<Result> {
    const res = await ipc.lockApp();
    if (res.status === "ok") this.state = res.data;
    return res;
  }

  /** Unlocks with the PIN; a wrong one leaves `error` set (what to do next). */
  unlock(pin: string): Promise<boolean> {
    return this.#unlockBy(() => ipc.unlockApp(pin));
  }

  /**
   * Unlocks once the operating system confirms the desktop user (polkit,
   * Windows Hello, Touch ID). Where it cannot, Kring stops offering it and
   * `error` says to use the PIN.
   */
  unlockWithOs(reason: string): Promise<boolean> {
    return this.#unlockBy(() => ipc.unlockAppWithOs(reason));
  }

  async #unlockBy(attempt: () => Promise<Result>): Promise<boolean> {
    if (this.busy) return false;
    this.busy = true;
    const res = await attempt();
    this.busy = false;
    if (res.status === "ok") {
      this.state = res.data;
      this.error = null;
      this.#lastInput = Date.now();
      return true;
    }
    this.error = res.error;
    await this.refresh();
    return false;
  }

  async setPin(pin: string): Promise<Result> {
    const res = await ipc.setAppLockPin(pin);
    if (res.status === "ok") this.state = res.data;
    return res;
  }

  async setIdle(seconds: number): Promise<Result> {
    const res = await ipc.setAppLockIdle(seconds);
    if (res.status === "ok") this.state = res.data;
    return res;
  }
}

type Result = { status: "ok"; data: AppLockState } | { status: "error"; error: AppError };

export const appLock = new AppLockStore();
