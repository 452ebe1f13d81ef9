import {
  ipc,
  type AppError,
  type LoginRequest,
  type Onboarded,
  type OnboardingProgress,
  type Result,
  type SessionInfo,
} from "$lib/ipc";

export type SessionPhase = "restoring" | "loggedOut" | "loggedIn";

/** Who is signed in. Rust owns the session; this mirrors what it last said. */
export class SessionStore {
  phase = $state<SessionPhase>("restoring");
  info = $state.raw<SessionInfo | null>(null);
  /** Why the login screen is shown (restore failed, session lost), if not a plain start. */
  notice = $state.raw<AppError | null>(null);
  /**
   * Signed in at the care platform in this run (a related person or client):
   * the main view opens on their care teams, where an invite by e-mail lands.
   */
  carePlatform = $state(false);

  /** At start: ask Rust for a stored session; skip login when there is one. */
  async restore(): Promise<void> {
    this.phase = "restoring";
    const res = await ipc.restoreSession();
    if (res.status === "ok" && res.data) {
      this.signedIn(res.data);
    } else {
      this.info = null;
      this.notice = res.status === "error" ? res.error : null;
      this.phase = "loggedOut";
    }
  }

  async login(request: LoginRequest): Promise<Result<SessionInfo, AppError>> {
    const res = await ipc.login(request);
    if (res.status === "ok") this.signedIn(res.data);
    return res;
  }

  /**
   * Sign in through the organisation (first login): Rust reports each step to
   * `onProgress` and resolves once it is signed in, which then counts exactly
   * like a password login.
   */
  async firstLogin(onProgress: (progress: OnboardingProgress) => void): Promise<Result<Onboarded, AppError>> {
    const res = await ipc.firstLogin(onProgress);
    if (res.status === "ok") this.signedIn(res.data.session);
    return res;
  }

  /**
   * Sign in as a related person or client at the care platform (in the
   * browser); counts exactly like a password login once Rust answers.
   */
  async relatedPersonLogin(): Promise<Result<SessionInfo, AppError>> {
    const res = await ipc.relatedPersonLogin();
    if (res.status === "ok") this.signedIn(res.data, true);
    return res;
  }

  /** Stop a running first login; the pending `firstLogin` then fails with login_cancelled. */
  cancelFirstLogin(): Promise<Result<null, AppError>> {
    return ipc.cancelFirstLogin();
  }

  async logout(): Promise<Result<null, AppError>> {
    const res = await ipc.logout();
    // A session Rust already forgot counts as signed out.
    if (res.status === "ok" || res.error.code === "not_logged_in" || res.error.code === "session_lost") {
      this.info = null;
      this.notice = null;
      this.phase = "loggedOut";
      return { status: "ok", data: null };
    }
    return res;
  }

  /** Rust said the session is gone (e.g. a stream failed with session_lost): back to login. */
  lost(error: AppError): void {
    this.info = null;
    this.notice = error;
    this.phase = "loggedOut";
  }

  private signedIn(info: SessionInfo, carePlatform = false): void {
    this.info = info;
    this.carePlatform = carePlatform;
    this.notice = null;
    this.phase = "loggedIn";
  }
}

export const session = new SessionStore();
