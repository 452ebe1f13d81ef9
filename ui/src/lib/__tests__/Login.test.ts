import { beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import Login from "$lib/components/Login.svelte";
import { session } from "$lib/stores/session.svelte";
import { errorText } from "$lib/errors";
import { i18n } from "$lib/i18n/index.svelte";
import type { AppError, Result, SessionInfo } from "$lib/ipc";
import { aRelatedSession, aSession, backend, err, ok, onboardingUntil } from "../../test/fakeBackend";

beforeEach(() => {
  backend.reset();
  session.notice = null;
  session.phase = "loggedOut";
  session.carePlatform = false;
});

async function fillAndSubmit(user: ReturnType<typeof userEvent.setup>) {
  await user.type(screen.getByTestId("login-homeserver"), "https://matrix.zorg.example");
  await user.type(screen.getByTestId("login-username"), "an.verpleegkundige");
  await user.type(screen.getByTestId("login-password"), "geheim-123");
  await user.click(screen.getByTestId("login-submit"));
}

describe("Login", () => {
  it("labels every field in Dutch", () => {
    render(Login);
    expect(screen.getByLabelText("Server van je organisatie")).toBe(screen.getByTestId("login-homeserver"));
    expect(screen.getByLabelText("Gebruikersnaam")).toBe(screen.getByTestId("login-username"));
    expect(screen.getByLabelText("Wachtwoord")).toBe(screen.getByTestId("login-password"));
    expect(screen.getByTestId("login-submit")).toHaveTextContent("Inloggen");
  });

  it("sends what was typed to Rust and signs in", async () => {
    const user = userEvent.setup();
    render(Login);
    await fillAndSubmit(user);
    expect(backend.commands.login).toHaveBeenCalledWith({
      homeserver: "https://matrix.zorg.example",
      username: "an.verpleegkundige",
      password: "geheim-123",
    });
    expect(session.phase).toBe("loggedIn");
    expect(session.info).toEqual(aSession);
  });

  it("shows the Dutch text for wrong_credentials and keeps what was typed", async () => {
    backend.commands.login.mockResolvedValueOnce(err("wrong_credentials", "M_FORBIDDEN: Invalid password"));
    const user = userEvent.setup();
    render(Login);
    await fillAndSubmit(user);

    const error = await screen.findByTestId("login-error");
    expect(error).toHaveTextContent("Gebruikersnaam of wachtwoord klopt niet.");
    expect(error).not.toHaveTextContent("wrong_credentials");
    expect(screen.getByRole("alert")).toBeInTheDocument();

    expect(screen.getByTestId("login-homeserver")).toHaveValue("https://matrix.zorg.example");
    expect(screen.getByTestId("login-username")).toHaveValue("an.verpleegkundige");
    expect(screen.getByTestId("login-password")).toHaveValue("geheim-123");
    expect(session.phase).toBe("loggedOut");
  });

  it("keeps code and detail behind a closed 'Details' disclosure", async () => {
    backend.commands.login.mockResolvedValueOnce(err("homeserver_unreachable", "connection refused"));
    const user = userEvent.setup();
    render(Login);
    await fillAndSubmit(user);

    expect(await screen.findByTestId("login-error")).toHaveTextContent("niet bereikbaar");
    const summary = screen.getByText("Details");
    const details = summary.closest("details")!;
    expect(details.open).toBe(false);
    expect(details).toHaveTextContent("homeserver_unreachable");
    expect(details).toHaveTextContent("connection refused");
    await user.click(summary);
    expect(details.open).toBe(true);
  });

  it("clears the previous error on a new attempt and can then succeed", async () => {
    backend.commands.login.mockResolvedValueOnce(err("wrong_credentials")).mockResolvedValueOnce(ok(aSession));
    const user = userEvent.setup();
    render(Login);
    await fillAndSubmit(user);
    expect(await screen.findByTestId("login-error")).toBeInTheDocument();
    await user.click(screen.getByTestId("login-submit"));
    expect(screen.queryByTestId("login-error")).not.toBeInTheDocument();
    expect(backend.commands.login).toHaveBeenCalledTimes(2);
    expect(session.phase).toBe("loggedIn");
  });

  it("shows why the login screen is back (a lost session)", () => {
    session.notice = { code: "session_lost", detail: "M_UNKNOWN_TOKEN" };
    render(Login);
    expect(screen.getByTestId("login-error")).toHaveTextContent("Je sessie is verlopen");
  });

  it("remembers the server address, never the username", async () => {
    const user = userEvent.setup();
    const { unmount } = render(Login);
    await fillAndSubmit(user);
    unmount();
    render(Login);
    expect(screen.getByTestId("login-homeserver")).toHaveValue("https://matrix.zorg.example");
    expect(screen.getByTestId("login-username")).toHaveValue("");
    expect(screen.getByTestId("login-password")).toHaveValue("");
  });
});

describe("Login with the organisation", () => {
  function offerOrganisationLogin(idpName: string | null = "Aurora Login") {
    backend.commands.loginOptions.mockResolvedValue(ok({ organisationLogin: true, idpName, relatedPersonLogin: null }));
  }

  it("offers only the password form when organisation login is off", async () => {
    render(Login);
    await vi.waitFor(() => expect(backend.commands.loginOptions).toHaveBeenCalledTimes(1));
    await new Promise((r) => setTimeout(r, 0)); // the options have arrived
    expect(screen.queryByTestId("org-login")).not.toBeInTheDocument();
    expect(screen.queryByTestId("password-login-toggle")).not.toBeInTheDocument();
    expect(screen.getByTestId("login-form")).toBeVisible();
    expect(screen.getByTestId("login-form").closest("details")).toBeNull();
  });

  it("shows the password form as before when Rust cannot say how to sign in", async () => {
    backend.commands.loginOptions.mockResolvedValue(err("internal", "no config"));
    render(Login);
    await vi.waitFor(() => expect(backend.commands.loginOptions).toHaveBeenCalledTimes(1));
    await new Promise((r) => setTimeout(r, 0)); // the options have arrived
    expect(screen.queryByTestId("org-login")).not.toBeInTheDocument();
    expect(screen.getByTestId("login-form").closest("details")).toBeNull();
  });

  it("makes the organisation the first way in, with its IdP, and folds the password form away", async () => {
    offerOrganisationLogin();
    const user = userEvent.setup();
    render(Login);
    const button = await screen.findByTestId("org-login");
    expect(button).toHaveTextContent("Inloggen via je organisatie");
    expect(button).toHaveClass("primary");
    expect(screen.getByTestId("org-login-hint")).toHaveTextContent("Via Aurora Login.");
    expect(button).toHaveAccessibleDescription(/Via Aurora Login/);

    const toggle = screen.getByTestId("password-login-toggle");
    expect(toggle).toHaveTextContent("Inloggen met gebruikersnaam en wachtwoord");
    const details = screen.getByTestId("password-login") as HTMLDetailsElement;
    expect(details.open).toBe(false);
    expect(within(details).getByTestId("login-form")).toBeInTheDocument();

    // The password login still works for family caregivers and administrators.
    await user.click(toggle);
    expect(details.open).toBe(true);
    await fillAndSubmit(user);
    expect(backend.commands.login).toHaveBeenCalledTimes(1);
    expect(session.phase).toBe("loggedIn");
    expect(backend.commands.firstLogin).not.toHaveBeenCalled();
  });

  it("says only that the browser opens when the IdP has no name", async () => {
    offerOrganisationLogin(null);
    render(Login);
    await screen.findByTestId("org-login");
    expect(screen.getByTestId("org-login-hint")).toHaveTextContent("Je browser wordt geopend om in te loggen.");
    expect(screen.getByTestId("org-login-hint")).not.toHaveTextContent("Via");
  });

  it("keeps the password form open for someone already typing in it when the options arrive", async () => {
    let answer!: (r: unknown) => void;
    backend.commands.loginOptions.mockReturnValueOnce(new Promise((r) => (answer = r)));
    const user = userEvent.setup();
    render(Login);
    await user.type(screen.getByTestId("login-username"), "an");
    answer(ok({ organisationLogin: true, idpName: null, relatedPersonLogin: null }));
    await screen.findByTestId("org-login");
    expect(screen.queryByTestId("password-login-toggle")).not.toBeInTheDocument();
    expect(screen.getByTestId("login-username")).toHaveValue("an");
  });

  it("shows why the login screen is back even while the password form is folded away", async () => {
    offerOrganisationLogin();
    session.notice = { code: "session_lost", detail: "M_UNKNOWN_TOKEN" };
    render(Login);
    await screen.findByTestId("org-login");
    const notice = screen.getByTestId("login-error");
    expect(notice).toHaveTextContent("Je sessie is verlopen");
    expect(notice.closest("details")).toBeNull();
  });

  it("opens the wizard, which starts the login in Rust, and 'Terug' comes back to the choice", async () => {
    offerOrganisationLogin();
    backend.scriptFirstLogin(onboardingUntil("organisation_login"), err("idp_unreachable", "dns"));
    const user = userEvent.setup();
    render(Login);
    await user.click(await screen.findByTestId("org-login"));
    expect(screen.getByTestId("first-login")).toBeInTheDocument();
    expect(screen.queryByTestId("login-form")).not.toBeInTheDocument();
    expect(backend.commands.firstLogin).toHaveBeenCalledTimes(1);

    await user.click(await screen.findByTestId("first-login-back"));
    expect(screen.queryByTestId("first-login")).not.toBeInTheDocument();
    expect(screen.getByTestId("org-login")).toHaveFocus();
    expect(screen.getByTestId("login-form")).toBeInTheDocument();
  });
});

describe("Login as a related person or client", () => {
  function offer(relatedPersonLogin: string | null) {
    backend.commands.loginOptions.mockResolvedValue(ok({ organisationLogin: true, idpName: "Aurora Login", relatedPersonLogin }));
  }

  it("offers no care platform login where the installation has none", async () => {
    offer(null);
    render(Login);
    await screen.findByTestId("org-login");
    expect(screen.queryByTestId("related-person-login")).not.toBeInTheDocument();
  });

  it("names the care platform on a second button and signs in through it, as after any login", async () => {
    offer("MijnZorgplatform");
    let answer!: (r: Result<SessionInfo, AppError>) => void;
    backend.commands.relatedPersonLogin.mockImplementationOnce(() => new Promise((r) => (answer = r)));
    const user = userEvent.setup();
    render(Login);
    const button = await screen.findByTestId("related-person-login");
    expect(button).toHaveTextContent("Inloggen als naaste of cliënt (MijnZorgplatform)");
    expect(button).toHaveAccessibleDescription(expect.stringContaining("Je browser wordt geopend"));

    await user.click(button);
    expect(backend.commands.relatedPersonLogin).toHaveBeenCalledTimes(1);
    // Not the practitioners' wizard: no directory is asked.
    expect(backend.commands.firstLogin).not.toHaveBeenCalled();
    expect(button).toBeDisabled();
    expect(screen.getByTestId("related-person-login-waiting")).toHaveTextContent("Log daar in bij MijnZorgplatform");

    answer(ok(aRelatedSession));
    await vi.waitFor(() => expect(session.phase).toBe("loggedIn"));
    expect(session.info).toEqual(aRelatedSession);
    expect(session.carePlatform).toBe(true);
  });

  it("says why the care platform login failed and can be tried again", async () => {
    offer("MijnZorgplatform");
    backend.commands.relatedPersonLogin
      .mockResolvedValueOnce(err("login_cancelled", "timed out"))
      .mockResolvedValueOnce(ok(aRelatedSession));
    const user = userEvent.setup();
    render(Login);
    await user.click(await screen.findByTestId("related-person-login"));
    expect(await screen.findByTestId("related-person-login-error")).toHaveTextContent(errorText(err("login_cancelled").error));
    expect(session.phase).toBe("loggedOut");
    expect(screen.getByTestId("related-person-login-waiting")).toBeEmptyDOMElement();

    await user.click(screen.getByTestId("related-person-login"));
    await vi.waitFor(() => expect(session.phase).toBe("loggedIn"));
  });

  it("is English too", async () => {
    i18n.locale = "en";
    try {
      offer("MyCarePlatform");
      render(Login);
      expect(await screen.findByTestId("related-person-login")).toHaveTextContent(
        "Sign in as a related person or client (MyCarePlatform)",
      );
    } finally {
      i18n.locale = "nl";
    }
  });
});
