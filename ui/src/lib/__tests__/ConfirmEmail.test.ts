// "Bevestig je e-mailadres": where an invited related person finds it (the
// client list), and the two steps (address → code) with their errors.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import ClientList from "$lib/components/ClientList.svelte";
import { CareTeamsStore } from "$lib/stores/careTeams.svelte";
import { backend, careTeam, err, invite, ok } from "../../test/fakeBackend";

let store: CareTeamsStore;

beforeEach(() => backend.reset());
afterEach(() => store.stop());

async function setup() {
  store = new CareTeamsStore();
  const user = userEvent.setup();
  render(ClientList, { store, selectedSpaceId: null, onselect: vi.fn() });
  await store.start();
  return user;
}

describe("ConfirmEmail in the client list", () => {
  it("is open right away for someone with no care team and no invitation", async () => {
    await setup();
    const box = await screen.findByTestId("confirm-email");
    expect(within(box).getByRole("heading")).toHaveTextContent("Bevestig je e-mailadres");
    expect(within(box).getByLabelText("E-mailadres")).toBe(within(box).getByTestId("confirm-email-address"));
    expect(screen.queryByTestId("confirm-email-toggle")).not.toBeInTheDocument();
  });

  it("is folded beside pending invitations", async () => {
    backend.commands.careTeamInvites.mockResolvedValue(ok([invite("!new", "Mevr. Smit")]));
    const user = await setup();
    await screen.findByTestId("care-team-invite");
    const toggle = screen.getByTestId("confirm-email-toggle");
    expect(toggle).toHaveTextContent("Uitnodiging per e-mail gekregen?");
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    expect(screen.queryByTestId("confirm-email-address")).not.toBeInTheDocument();
    await user.click(toggle);
    expect(screen.getByTestId("confirm-email-address")).toHaveFocus();
  });

  it("stays reachable, folded, for someone who has care teams", async () => {
    backend.commands.careTeams.mockResolvedValue(ok([careTeam("!a", "Mw. Jansen")]));
    await setup();
    await screen.findByTestId("client-item");
    expect(screen.getByTestId("confirm-email-toggle")).toHaveAttribute("aria-expanded", "false");
  });

  it("mails a code to the address, confirms it with the code, and looks for the invitation", async () => {
    const user = await setup();
    await user.type(await screen.findByTestId("confirm-email-address"), " els.jansen@example.org ");
    await user.click(screen.getByTestId("confirm-email-send"));
    expect(backend.commands.requestEmailValidation).toHaveBeenCalledWith("els.jansen@example.org");
    expect(await screen.findByTestId("confirm-email-sent")).toHaveTextContent(
      "Er is een mail met een code gestuurd naar els.jansen@example.org.",
    );
    const code = screen.getByTestId("confirm-email-code");
    expect(code).toHaveFocus();
    expect(code).toHaveAccessibleName("Code uit de mail");

    const invitesBefore = backend.commands.careTeamInvites.mock.calls.length;
    backend.commands.careTeamInvites.mockResolvedValue(ok([invite("!jansen", "Mw. Jansen", "Bram Visser")]));
    await user.type(code, "123456{Enter}");
    expect(backend.commands.confirmEmail).toHaveBeenCalledWith("123456");
    expect(backend.commands.requestEmailValidation.mock.invocationCallOrder[0]).toBeLessThan(
      backend.commands.confirmEmail.mock.invocationCallOrder[0]!,
    );
    expect(await screen.findByTestId("confirm-email-done")).toHaveTextContent(
      "Je e-mailadres els.jansen@example.org is bevestigd; de uitnodiging verschijnt zo bij Uitnodigingen.",
    );
    // Asked again at once, and the message stays while the invitation appears.
    await vi.waitFor(() => expect(backend.commands.careTeamInvites.mock.calls.length).toBeGreaterThan(invitesBefore));
    expect(await screen.findByTestId("care-team-invite")).toHaveTextContent("Mw. Jansen");
    expect(screen.getByTestId("confirm-email-done")).toBeInTheDocument();
  });

  it("keeps the code on a wrong code, says so, and confirms once it is corrected", async () => {
    const user = await setup();
    await user.type(await screen.findByTestId("confirm-email-address"), "els.jansen@example.org{Enter}");
    const code = await screen.findByTestId("confirm-email-code");
    backend.commands.confirmEmail.mockResolvedValueOnce(err("email_code_wrong", "M_THREEPID_AUTH_FAILED"));
    await user.type(code, "123465");
    await user.click(screen.getByTestId("confirm-email-confirm"));
    const error = await screen.findByTestId("confirm-email-error");
    expect(error).toHaveTextContent("De code uit de mail klopt niet. Controleer hem, of vraag een nieuwe mail aan.");
    expect(error).not.toHaveTextContent("email_code_wrong");
    expect(code).toHaveValue("123465");
    expect(screen.queryByTestId("confirm-email-done")).not.toBeInTheDocument();

    await user.clear(code);
    await user.type(code, "123456");
    await user.click(screen.getByTestId("confirm-email-confirm"));
    expect(backend.commands.confirmEmail).toHaveBeenLastCalledWith("123456");
    expect(await screen.findByTestId("confirm-email-done")).toBeInTheDocument();
    expect(screen.queryByTestId("confirm-email-error")).not.toBeInTheDocument();
  });

  it("keeps the address when the mail cannot be sent, and shows the reason in words", async () => {
    const user = await setup();
    const address = await screen.findByTestId("confirm-email-address");
    backend.commands.requestEmailValidation.mockResolvedValueOnce(err("email_invalid", "M_INVALID_PARAM"));
    await user.type(address, "els.jansen@example");
    await user.click(screen.getByTestId("confirm-email-send"));
    expect(await screen.findByTestId("confirm-email-error")).toHaveTextContent("Dit is geen e-mailadres.");
    expect(address).toHaveValue("els.jansen@example");
    expect(screen.queryByTestId("confirm-email-code")).not.toBeInTheDocument();

    backend.commands.requestEmailValidation.mockResolvedValueOnce(err("identity_service_unreachable", "timeout"));
    await user.type(address, ".org");
    await user.click(screen.getByTestId("confirm-email-send"));
    await vi.waitFor(() =>
      expect(screen.getByTestId("confirm-email-error")).toHaveTextContent("identiteitsdienst van je organisatie is niet bereikbaar"),
    );
    expect(address).toHaveValue("els.jansen@example.org");
    expect(backend.commands.confirmEmail).not.toHaveBeenCalled();
  });

  it("sends a new mail, or goes back to the address with what was typed", async () => {
    const user = await setup();
    await user.type(await screen.findByTestId("confirm-email-address"), "els@example.org{Enter}");
    await screen.findByTestId("confirm-email-code");
    await user.click(screen.getByTestId("confirm-email-resend"));
    expect(backend.commands.requestEmailValidation).toHaveBeenCalledTimes(2);
    expect(backend.commands.requestEmailValidation).toHaveBeenLastCalledWith("els@example.org");

    await user.click(screen.getByTestId("confirm-email-other"));
    const address = screen.getByTestId("confirm-email-address");
    expect(address).toHaveValue("els@example.org");
    expect(address).toHaveFocus();
  });
});
