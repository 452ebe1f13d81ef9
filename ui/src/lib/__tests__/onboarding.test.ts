import { describe, expect, it } from "vitest";
import { applyProgress, initialSteps, markFailed, organisationName, type StepView } from "$lib/onboarding";
import type { OnboardingProgress } from "$lib/ipc";

const p = (step: OnboardingProgress["step"], state: OnboardingProgress["state"], detail: string | null = null): OnboardingProgress => ({
  step,
  state,
  detail,
});

const run = (...messages: OnboardingProgress[]): StepView[] => messages.reduce(applyProgress, initialSteps());
const states = (steps: StepView[]) => steps.map((s) => s.state);

describe("onboarding steps", () => {
  it("start all pending, in Rust's order", () => {
    expect(initialSteps().map((s) => s.step)).toEqual([
      "organisation_login",
      "find_organisation",
      "find_practitioner",
      "connect_homeserver",
      "bind_identity",
      "ready",
    ]);
    expect(states(initialSteps())).toEqual(["pending", "pending", "pending", "pending", "pending", "pending"]);
  });

  it("keep a step's detail only once it is done", () => {
    const steps = run(p("organisation_login", "running", "ignored"), p("organisation_login", "done", "An"), p("find_organisation", "failed", "HTTP 500"));
    expect(steps[0]).toEqual({ step: "organisation_login", state: "done", detail: "An" });
    expect(steps[1]).toEqual({ step: "find_organisation", state: "failed", detail: null });
    expect(run(p("organisation_login", "running", "x"))[0]!.detail).toBeNull();
  });

  it("ignore a step the UI does not know", () => {
    expect(run(p("brand_new" as never, "running"))).toEqual(initialSteps());
  });

  it("markFailed keeps Rust's failed step, else fails the running one, else the first not done", () => {
    const failed = run(p("organisation_login", "done", "An"), p("find_organisation", "failed"));
    expect(states(markFailed(failed))).toEqual(["done", "failed", "pending", "pending", "pending", "pending"]);
    const running = run(p("organisation_login", "done", "An"), p("find_organisation", "done", "Aurora"), p("find_practitioner", "running"));
    expect(states(markFailed(running))).toEqual(["done", "done", "failed", "pending", "pending", "pending"]);
    const between = run(p("organisation_login", "done", "An"));
    expect(states(markFailed(between))).toEqual(["done", "failed", "pending", "pending", "pending", "pending"]);
  });

  it("names the organisation once find_organisation is done", () => {
    expect(organisationName(run(p("find_organisation", "running")))).toBeNull();
    expect(organisationName(run(p("find_organisation", "done", "Ziekenhuis Aurora")))).toBe("Ziekenhuis Aurora");
  });
});
