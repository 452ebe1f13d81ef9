// End to end inside jsdom: the real generated bindings, real @tauri-apps/api
// Channels and the in-memory mock backend of `npm run dev:mock`. Checks that
// both the browser demo mode and the channel plumbing work as a whole.
import { beforeEach, describe, expect, it } from "vitest";
import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import App from "../../App.svelte";
import { installMockBackend } from "../../mock/backend";
import { session } from "$lib/stores/session.svelte";

const slow = { timeout: 4000 };

beforeEach(() => {
  session.phase = "restoring";
  session.info = null;
  session.notice = null;
  installMockBackend();
});

describe("the app against the mock backend", () => {
  it("logs in, lists rooms, opens one and sends a message that goes sending → sent", async () => {
    const user = userEvent.setup();
    render(App);
    await user.type(await screen.findByTestId("login-homeserver", {}, slow), "https://kring.test");
    await user.type(screen.getByTestId("login-username"), "demo");
    await user.type(screen.getByTestId("login-password"), "fout");
    await user.click(screen.getByTestId("login-submit"));
    expect(await screen.findByTestId("login-error", {}, slow)).toHaveTextContent("Gebruikersnaam of wachtwoord klopt niet.");

    await user.clear(screen.getByTestId("login-password"));
    await user.type(screen.getByTestId("login-password"), "goed");
    await user.click(screen.getByTestId("login-submit"));
    expect(await screen.findByTestId("user-id", {}, slow)).toHaveTextContent("@demo:kring.test");

    const items = await screen.findAllByTestId("room-item", {}, slow);
    expect(items).toHaveLength(3);
    await user.click(items[0]!);
    expect(screen.getByTestId("timeline-title")).toHaveTextContent("Familie Jansen");
    expect((await screen.findAllByTestId("timeline-message", {}, slow)).length).toBe(4);

    await user.type(screen.getByTestId("composer-input"), "Ik ben onderweg");
    await user.keyboard("{Control>}{Enter}{/Control}");
    const mine = await screen.findByText("Ik ben onderweg", {}, slow);
    const li = mine.closest("[data-testid=timeline-message]")!;
    expect(li).toHaveAttribute("data-send-state", "sending");
    await expect.poll(() => li.getAttribute("data-send-state"), slow).toBe("sent");
  }, 15_000);
});
