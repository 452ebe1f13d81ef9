import type { AppError } from "$lib/ipc";
import { applyProgress, initialSteps, markFailed, organisationName, stepIn, type StepView } from "$lib/onboarding";
import { session } from "./session.svelte";

/**
 * One run of the first-login wizard: the steps as Rust reports them, and the
 * error it ended with. `start` again (retry) begins with fresh steps; progress
 * of an earlier or abandoned attempt is dropped.
 */
export class FirstLoginFlow {
  steps = $state.raw<StepView[]>(initialSteps());
  error = $state.raw<AppError | null>(null);
  /** True while Rust is working on an attempt. */
  busy = $state(false);
  cancelling = $state(false);
  #generation = 0;

  /** The step Rust is working on now. */
  get running(): StepView | undefined {
    return stepIn(this.steps, "running");
  }

  get failed(): StepView | undefined {
    return stepIn(this.steps, "failed");
  }

  /** The user is signing in at the IdP, in the system browser. */
  get inBrowser(): boolean {
    return this.busy && this.running?.step === "organisation_login";
  }

  get organisation(): string | null {
    return organisationName(this.steps);
  }

  /** Begin (or retry) the organisation login. Resolves when Rust answers. */
  async start(): Promise<void> {
    const generation = ++this.#generation;
    this.steps = initialSteps();
    this.error = null;
    this.busy = true;
    this.cancelling = false;
    const res = await session.firstLogin((progress) => {
      if (generation === this.#generation) this.steps = applyProgress(this.steps, progress);
    });
    if (generation !== this.#generation) return;
    this.busy = false;
    this.cancelling = false;
    if (res.status === "error") {
      this.steps = markFailed(this.steps);
      this.error = res.error;
    }
  }

  /** Ask Rust to stop; the attempt then ends with login_cancelled. */
  async cancel(): Promise<void> {
    if (!this.busy || this.cancelling) return;
    const generation = this.#generation;
    this.cancelling = true;
    const res = await session.cancelFirstLogin();
    // Could not cancel (already finished, say): let the user try again.
    if (res.status === "error" && generation === this.#generation) this.cancelling = false;
  }

  /** The wizard is gone: stop listening, and stop Rust if it is still at work. */
  dispose(): void {
    this.#generation++;
    // Signing in unmounts the wizard before `start` sees the answer: nothing to stop then.
    if (this.busy && session.phase !== "loggedIn") void session.cancelFirstLogin();
    this.busy = false;
  }
}
