// The first-login wizard's steps as the UI shows them, kept in step with the
// progress Rust reports (`{step, state, detail}`). Pure: the flow store holds
// the state, the components only render it.
import type { AppError, OnboardingProgress, OnboardingStep, StepState } from "$lib/ipc";
import { errorText } from "$lib/errors";
import { t } from "$lib/i18n/index.svelte";

/** The steps in the order Rust runs them. */
export const ONBOARDING_STEPS = [
  "organisation_login",
  "find_organisation",
  "find_practitioner",
  "connect_homeserver",
  "bind_identity",
  "ready",
] as const satisfies readonly OnboardingStep[];
// Fails `npm run check` when Rust adds a step the wizard does not show.
type MissingSteps = Exclude<OnboardingStep, (typeof ONBOARDING_STEPS)[number]>;
export const ONBOARDING_STEPS_COMPLETE: [MissingSteps] extends [never] ? true : MissingSteps = true;

/** A step not started yet is "pending"; the other states are Rust's. */
export type StepDisplayState = "pending" | StepState;

export interface StepView {
  step: OnboardingStep;
  state: StepDisplayState;
  /** What the step found (a name, the Matrix ID); only kept once it is done. */
  detail: string | null;
}

export function initialSteps(): StepView[] {
  return ONBOARDING_STEPS.map((step) => ({ step, state: "pending", detail: null }));
}

/** The steps after one progress message; a step the UI does not know is ignored. */
export function applyProgress(steps: readonly StepView[], progress: OnboardingProgress): StepView[] {
  return steps.map((s) =>
    s.step === progress.step
      ? // A failed step's detail is not shown: the technical part is the AppError's, under "Details".
        { step: s.step, state: progress.state, detail: progress.state === "done" ? progress.detail : null }
      : s,
  );
}

/**
 * The command failed. Rust marks the failed step before it answers, but a
 * channel message and the command's answer travel separately: when the answer
 * came first, the step that was running failed (or, if none was, the first
 * one not done yet).
 */
export function markFailed(steps: readonly StepView[]): StepView[] {
  if (steps.some((s) => s.state === "failed")) return [...steps];
  const at = steps.find((s) => s.state === "running") ?? steps.find((s) => s.state !== "done") ?? steps.at(-1);
  return steps.map((s) => (s === at ? { ...s, state: "failed", detail: null } : s));
}

export function stepIn(steps: readonly StepView[], state: StepDisplayState): StepView | undefined {
  return steps.find((s) => s.state === state);
}

/** The organisation's name as the directory gave it, once that step is done. */
export function organisationName(steps: readonly StepView[]): string | null {
  const found = steps.find((s) => s.step === "find_organisation");
  return found?.state === "done" ? found.detail : null;
}

export function stepLabel(step: OnboardingStep): string {
  return t(`firstLogin.steps.${step}`);
}

/** 1-based position of a step, for "Stap 2 van 6". */
export function stepNumber(step: OnboardingStep): number {
  return ONBOARDING_STEPS.indexOf(step) + 1;
}

/** What went wrong, in plain words; names the organisation where the advice is to ask it. */
export function failureText(error: AppError, organisation: string | null): string {
  if (error.code === "matrix_account_missing" && organisation) {
    return t("firstLogin.accountMissing", { organisation });
  }
  return errorText(error);
}
