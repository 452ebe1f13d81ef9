import { beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import FirstLogin from "$lib/components/FirstLogin.svelte";
import { i18n } from "$lib/i18n/index.svelte";
import { session } from "$lib/stores/session.svelte";
import type { ErrorCode, OnboardingStep } from "$lib/ipc";
import { aSession, anOnboarded, backend, err, ok, onboardingUntil, progress } from "../../test/fakeBackend";

const STEPS: OnboardingStep[] = ["organisation_login", "find_organisation", "find_practitioner", "connect_homeserver", "bind_identity", "ready"];

beforeEach(() => {
  backend.reset();
  i18n.locale = "nl";
  session.phase = "loggedOut";
  session.info = null;
  session.notice = null;
});

function start() {
  const onback = vi.fn();
  const user = userEvent.setup();
  render(FirstLogin, { props: { onback } });
  return { user, onback };
}

const stepItem = (step: OnboardingStep) => screen.getByTestId(`step-${step}`);
const states = () => STEPS.map((s) => stepItem(s).getAttribute("data-state"));

describe("the first-login wizard", () => {
  it("shows the six steps in order, each with its state as text, and starts the login in Rust", async () => {
    start();
    const wizard = screen.getByTestId("first-login");
    const items = within(wizard).getAllByRole("listitem");
    expect(items.map((li) => li.getAttribute("data-testid"))).toEqual(STEPS.map((s) => `step-${s}`));
    expect(items.map((li) => li.textContent)).toEqual([
      expect.stringContaining("Inloggen bij je organisatie"),
      expect.stringContaining("Je organisatie vinden"),
      expect.stringContaining("Jou vinden in het zorgadresboek"),
      expect.stringContaining("Verbinden met je Matrix-server"),
      expect.stringContaining("Je identiteit vastleggen bij je organisatie"),
      expect.stringContaining("Klaar"),
    ]);
    expect(states()).toEqual(["pending", "pending", "pending", "pending", "pending", "pending"]);
    for (const li of items) expect(within(li).getByTestId("step-state")).toHaveTextContent("Nog niet begonnen");
    await vi.waitFor(() => expect(backend.commands.firstLogin).toHaveBeenCalledTimes(1));
    expect(backend.channels.onboarding).toHaveLength(1);
  });

  it("follows Rust's progress: running, then done with what the step found", async () => {
    start();
    await vi.waitFor(() => expect(backend.channels.onboarding).toHaveLength(1));

    backend.pushProgress(progress("organisation_login", "running"));
    await vi.waitFor(() => expect(stepItem("organisation_login")).toHaveAttribute("data-state", "running"));
    expect(stepItem("organisation_login")).toHaveAttribute("aria-current", "step");
    expect(within(stepItem("organisation_login")).getByTestId("step-state")).toHaveTextContent("Bezig…");
    expect(screen.getByTestId("first-login-browser")).toHaveTextContent("Ga verder in je browser…");
    expect(screen.getByTestId("first-login-cancel")).toBeEnabled();
    expect(screen.getByRole("status")).toHaveTextContent("Stap 1 van 6: Inloggen bij je organisatie. Bezig…");

    backend.pushProgress(progress("organisation_login", "done", "An de Vries"), progress("find_organisation", "running"));
    await vi.waitFor(() => expect(states()).toEqual(["done", "running", "pending", "pending", "pending", "pending"]));
    const first = stepItem("organisation_login");
    expect(within(first).getByTestId("step-state")).toHaveTextContent("Gelukt");
    expect(within(first).getByTestId("step-detail")).toHaveTextContent("An de Vries");
    expect(first).not.toHaveAttribute("aria-current");
    // Out of the browser: no more "continue in your browser", no cancel.
    expect(screen.queryByTestId("first-login-browser")).not.toBeInTheDocument();
    expect(screen.queryByTestId("first-login-cancel")).not.toBeInTheDocument();
    expect(screen.getByRole("status")).toHaveTextContent("Stap 2 van 6: Je organisatie vinden. Bezig…");

    backend.pushProgress(progress("find_organisation", "done", "Ziekenhuis Aurora"));
    await vi.waitFor(() => expect(within(stepItem("find_organisation")).getByTestId("step-detail")).toHaveTextContent("Ziekenhuis Aurora"));
    expect(screen.getByRole("status")).toHaveTextContent("Je organisatie vinden: gelukt.");
    expect(within(stepItem("find_practitioner")).queryByTestId("step-detail")).not.toBeInTheDocument();
    expect(screen.queryByTestId("first-login-error")).not.toBeInTheDocument();
  });

  it("signs in with the session Rust onboarded, as a password login does", async () => {
    start();
    await vi.waitFor(() => expect(backend.channels.onboarding).toHaveLength(1));
    backend.pushProgress(...onboardingUntil());
    expect(session.phase).toBe("loggedOut");
    backend.finishFirstLogin(ok(anOnboarded));
    await vi.waitFor(() => expect(session.phase).toBe("loggedIn"));
    expect(session.info).toEqual(aSession);
    expect(session.notice).toBeNull();
    // Signing in is not a reason to cancel anything.
    expect(backend.commands.cancelFirstLogin).not.toHaveBeenCalled();
  });

  it("cancel asks Rust to stop, and the wizard then says the login was cancelled", async () => {
    const { user } = start();
    await vi.waitFor(() => expect(backend.channels.onboarding).toHaveLength(1));
    backend.pushProgress(progress("organisation_login", "running"));
    await user.click(await screen.findByTestId("first-login-cancel"));
    expect(backend.commands.cancelFirstLogin).toHaveBeenCalledTimes(1);

    const alert = await screen.findByTestId("first-login-error");
    expect(alert).toHaveAttribute("role", "alert");
    expect(alert).toHaveTextContent("Stap 1 van 6 is niet gelukt: Inloggen bij je organisatie");
    expect(screen.getByTestId("first-login-error-text")).toHaveTextContent("Inloggen is geannuleerd.");
    expect(states()).toEqual(["failed", "pending", "pending", "pending", "pending", "pending"]);
    expect(within(stepItem("organisation_login")).getByTestId("step-state")).toHaveTextContent("Mislukt");
    expect(screen.queryByTestId("first-login-cancel")).not.toBeInTheDocument();
    expect(session.phase).toBe("loggedOut");
  });

  it("keeps the cancel button disabled while cancelling, and usable again if Rust could not cancel", async () => {
    let answer!: (r: ReturnType<typeof err>) => void;
    backend.commands.cancelFirstLogin.mockImplementationOnce(() => new Promise((r) => (answer = r)));
    const { user } = start();
    await vi.waitFor(() => expect(backend.channels.onboarding).toHaveLength(1));
    backend.pushProgress(progress("organisation_login", "running"));
    const cancel = await screen.findByTestId("first-login-cancel");
    await user.click(cancel);
    expect(cancel).toBeDisabled();
    expect(cancel).toHaveTextContent("Bezig met annuleren…");
    answer(err("internal", "nothing to cancel"));
    await vi.waitFor(() => expect(cancel).toBeEnabled());
    expect(cancel).toHaveTextContent("Annuleren");
  });

  // Each code at the step where Rust reports it, with the words the user gets.
  const failures: [ErrorCode, OnboardingStep, string][] = [
    ["onboarding_not_configured", "organisation_login", "nog niet ingesteld"],
    ["idp_unreachable", "organisation_login", "De inlogpagina van je organisatie is nu niet bereikbaar"],
    ["idp_rejected", "organisation_login", "Je organisatie heeft het inloggen niet toegestaan"],
    ["login_cancelled", "organisation_login", "Inloggen is geannuleerd."],
    ["token_without_uzi", "organisation_login", "Je organisatie-account mist je UZI-nummer"],
    ["token_without_ura", "organisation_login", "Je organisatie-account mist het URA-nummer van je organisatie"],
    [
      "ura_unknown",
      "find_organisation",
      "Je organisatie staat niet in het landelijk adresboek (LRZa) of bij Nuts. Neem contact op met de IT-afdeling van je organisatie.",
    ],
    ["directory_unreachable", "find_organisation", "Probeer het later opnieuw."],
    ["directory_malformed", "find_practitioner", "een antwoord dat Kring niet kan lezen"],
    ["practitioner_not_in_directory", "find_practitioner", "Je staat niet in het adresboek van je organisatie"],
    ["no_matrix_address", "find_practitioner", "geen chatadres"],
    ["homeserver_unreachable", "connect_homeserver", "De server van je organisatie is nu niet bereikbaar"],
    [
      "matrix_account_missing",
      "connect_homeserver",
      "Je organisatie Ziekenhuis Aurora heeft nog geen chat-account voor je aangemaakt. Vraag Ziekenhuis Aurora om je account aan te maken.",
    ],
  ];

  it.each(failures)("%s: names step %s and says what happened and what to do", async (code, step, text) => {
    backend.scriptFirstLogin(onboardingUntil(step), err(code, "HTTP 503 from https://directory.example/fhir"));
    start();
    const alert = await screen.findByTestId("first-login-error");
    const n = STEPS.indexOf(step);
    const label = ["Inloggen bij je organisatie", "Je organisatie vinden", "Jou vinden in het zorgadresboek", "Verbinden met je Matrix-server"][n]!;
    expect(alert).toHaveTextContent(`Stap ${n + 1} van 6 is niet gelukt: ${label}`);
    const readable = screen.getByTestId("first-login-error-text");
    expect(readable).toHaveTextContent(text);
    // Nothing technical outside "Details".
    expect(readable).not.toHaveTextContent(code);
    expect(readable).not.toHaveTextContent("https://");
    expect(states()).toEqual(STEPS.map((_, i) => (i < n ? "done" : i === n ? "failed" : "pending")));
    expect(screen.getByTestId("first-login-retry")).toHaveTextContent("Opnieuw proberen");
    expect(screen.getByTestId("first-login-back")).toHaveTextContent("Terug");
  });

  it("says 'your organisation' for a missing account when the organisation was not named", async () => {
    backend.scriptFirstLogin(
      [progress("organisation_login", "done", "An"), progress("find_organisation", "done", null), progress("connect_homeserver", "failed")],
      err("matrix_account_missing"),
    );
    start();
    expect(await screen.findByTestId("first-login-error-text")).toHaveTextContent(
      "Je organisatie heeft nog geen chat-account voor je aangemaakt. Vraag je organisatie om je account aan te maken.",
    );
  });

  it("keeps the code and technical detail behind a closed 'Details' disclosure", async () => {
    backend.scriptFirstLogin(onboardingUntil("find_organisation"), err("directory_unreachable", "connect timeout: https://lrza.example"));
    const { user } = start();
    const alert = await screen.findByTestId("first-login-error");
    const summary = within(alert).getByText("Details");
    const details = summary.closest("details")!;
    expect(details.open).toBe(false);
    expect(details).toHaveTextContent("directory_unreachable");
    expect(details).toHaveTextContent("connect timeout: https://lrza.example");
    await user.click(summary);
    expect(details.open).toBe(true);
  });

  it("marks the running step failed when Rust's answer comes before its 'failed' message", async () => {
    backend.scriptFirstLogin(
      [...onboardingUntil("find_practitioner").slice(0, -1)], // ends with find_practitioner running
      err("practitioner_not_in_directory"),
    );
    start();
    await screen.findByTestId("first-login-error");
    expect(states()).toEqual(["done", "done", "failed", "pending", "pending", "pending"]);
    expect(screen.getByTestId("first-login-error")).toHaveTextContent("Stap 3 van 6 is niet gelukt: Jou vinden in het zorgadresboek");
  });

  it("marks the first step failed when Rust fails before any step started", async () => {
    backend.scriptFirstLogin([], err("onboarding_not_configured"));
    start();
    await screen.findByTestId("first-login-error");
    expect(states()).toEqual(["failed", "pending", "pending", "pending", "pending", "pending"]);
  });

  it("retry starts again with fresh steps and ignores the old attempt's progress", async () => {
    backend.scriptFirstLogin(onboardingUntil("find_organisation"), err("directory_unreachable"));
    const { user } = start();
    await user.click(await screen.findByTestId("first-login-retry"));

    expect(backend.commands.firstLogin).toHaveBeenCalledTimes(2);
    expect(screen.queryByTestId("first-login-error")).not.toBeInTheDocument();
    expect(states()).toEqual(["pending", "pending", "pending", "pending", "pending", "pending"]);
    expect(within(stepItem("organisation_login")).queryByTestId("step-detail")).not.toBeInTheDocument();

    // A late message on the first attempt's channel changes nothing.
    backend.channels.onboarding[0]!.onmessage(progress("find_practitioner", "running"));
    backend.pushProgress(progress("organisation_login", "running"));
    await vi.waitFor(() => expect(states()).toEqual(["running", "pending", "pending", "pending", "pending", "pending"]));

    backend.pushProgress(...onboardingUntil().slice(1));
    backend.finishFirstLogin(ok(anOnboarded));
    await vi.waitFor(() => expect(session.phase).toBe("loggedIn"));
  });

  it("'Terug' leaves the wizard", async () => {
    backend.scriptFirstLogin(onboardingUntil("organisation_login"), err("idp_rejected"));
    const { user, onback } = start();
    await user.click(await screen.findByTestId("first-login-back"));
    expect(onback).toHaveBeenCalledTimes(1);
    expect(backend.commands.firstLogin).toHaveBeenCalledTimes(1);
  });

  it("speaks English when chosen", async () => {
    i18n.locale = "en";
    backend.scriptFirstLogin(onboardingUntil("find_practitioner"), err("practitioner_not_in_directory"));
    start();
    const alert = await screen.findByTestId("first-login-error");
    expect(alert).toHaveTextContent("Step 3 of 6 did not work: Finding you in the directory");
    expect(stepItem("organisation_login")).toHaveTextContent("Sign in with your organisation");
    expect(stepItem("connect_homeserver")).toHaveTextContent("Connecting to your Matrix server");
    expect(within(stepItem("find_organisation")).getByTestId("step-state")).toHaveTextContent("Done");
    expect(screen.getByTestId("first-login-retry")).toHaveTextContent("Try again");
  });
});
