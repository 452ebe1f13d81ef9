// Signing in and out: the password login, the organisation login (the first
// login, step by step), the care platform login of related persons and clients,
// and restoring the session.
import type { AppError, Onboarded, OnboardingProgress, OnboardingStep, SessionInfo } from "$lib/ipc";
import { type AnyChannel, type Commands, type Mock, Stream, fail, sleep } from "./core";

/** Where each first-login error happens, for `?fail=<code>`. */
const FAILS_AT: Partial<Record<AppError["code"], OnboardingStep>> = {
  onboarding_not_configured: "organisation_login",
  idp_unreachable: "organisation_login",
  idp_rejected: "organisation_login",
  login_cancelled: "organisation_login",
  token_without_uzi: "organisation_login",
  token_without_ura: "organisation_login",
  ura_unknown: "find_organisation",
  directory_unreachable: "find_organisation",
  directory_malformed: "find_practitioner",
  practitioner_not_in_directory: "find_practitioner",
  no_matrix_address: "find_practitioner",
  matrix_account_missing: "connect_homeserver",
  homeserver_unreachable: "connect_homeserver",
  storage: "ready",
};

export function sessionCommands(mock: Mock): Commands {
  /** The running first login's cancel, if one runs. */
  let cancelOnboarding: (() => void) | null = null;

  /**
   * The organisation login as Rust runs it: each step "running", then "done"
   * with what it found; the browser step waits longest (the user signs in there).
   */
  async function firstLogin(channel: AnyChannel): Promise<Onboarded> {
    const progress = new Stream(channel);
    const report = (step: OnboardingStep, state: OnboardingProgress["state"], detail: string | null = null) =>
      progress.send({ step, state, detail } satisfies OnboardingProgress);
    const failCode = new URLSearchParams(globalThis.location?.search ?? "").get("fail") as AppError["code"] | null;
    const failAt = failCode ? FAILS_AT[failCode] : undefined;
    let cancelled = false;
    cancelOnboarding = () => (cancelled = true);
    const found: Record<OnboardingStep, [number, string | null]> = {
      organisation_login: [1200, "An de Vries"],
      find_organisation: [500, "Ziekenhuis Aurora"],
      find_practitioner: [500, "A. de Vries (verpleegkundige)"],
      connect_homeserver: [600, "@an.devries:kring.test"],
      bind_identity: [400, "UZI 900012345"],
      ready: [200, null],
    };
    try {
      for (const [step, [ms, detail]] of Object.entries(found) as [OnboardingStep, [number, string | null]][]) {
        report(step, "running");
        for (let waited = 0; waited < ms && !cancelled; waited += 100) await sleep(100);
        if (cancelled && step === "organisation_login") {
          report(step, "failed");
          fail("login_cancelled", "cancelled by the user");
        }
        if (step === failAt && failCode) {
          report(step, "failed");
          fail(failCode, `mock: ?fail=${failCode}`);
        }
        report(step, "done", detail);
      }
    } finally {
      cancelOnboarding = null;
    }
    const session: SessionInfo = {
      userId: "@an.devries:kring.test",
      deviceId: "MOCKDEVICE",
      homeserver: "https://kring.test",
      displayName: "An de Vries",
    };
    mock.session = session;
    mock.carePlatform = false;
    return {
      session,
      organisation: "Ziekenhuis Aurora",
      practitioner: "A. de Vries (verpleegkundige)",
      account: "provisioned",
      directory: "https://mcsd.aurora.test/fhir",
    };
  }

  return {
    restore_session: () => mock.session,
    login: (args) => {
      const req = args.request as { homeserver: string; username: string; password: string };
      if (!/^https?:\/\/\S+$/.test(req.homeserver)) fail("invalid_homeserver", `not a URL: ${req.homeserver}`);
      if (req.password === "fout") fail("wrong_credentials", "M_FORBIDDEN: Invalid username or password");
      mock.session = {
        userId: `@${req.username}:${new URL(req.homeserver).hostname}`,
        deviceId: "MOCKDEVICE",
        homeserver: req.homeserver,
        displayName: "Demo Gebruiker",
      };
      mock.carePlatform = false;
      return mock.session;
    },
    login_options: () => ({
      organisationLogin: true,
      idpName: "Aurora Login (demo)",
      relatedPersonLogin: "Zorgplatform (demo)",
    }),
    // The browser login at the care platform: Els Jansen, a daughter invited by e-mail.
    related_person_login: async () => {
      await sleep(1200);
      mock.session = {
        userId: "@els.jansen:kring.test",
        deviceId: "MOCKDEVICE",
        homeserver: "https://kring.test",
        displayName: "Els Jansen",
      };
      mock.carePlatform = true;
      return mock.session;
    },
    first_login: (args) => firstLogin(args.onProgress as AnyChannel),
    cancel_first_login: () => {
      cancelOnboarding?.();
      return null;
    },
    logout: () => {
      mock.session = null;
      mock.carePlatform = false;
      mock.closeAll();
      return null;
    },
  };
}
