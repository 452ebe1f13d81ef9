import { beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import Login from "$lib/components/Login.svelte";
import { session } from "$lib/stores/session.svelte";
import { aSession, backend, err, ok } from "../../test/fakeBackend";

beforeEach(() => {
  backend.reset();
  session.notice = null;
  session.phase = "loggedOut";
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
