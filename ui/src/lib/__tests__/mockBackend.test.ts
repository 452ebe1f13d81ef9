// End to end inside jsdom: the real generated bindings, real @tauri-apps/api
// Channels and the in-memory mock backend of `npm run dev:mock`. Checks that
// both the browser demo mode and the channel plumbing work as a whole.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import App from "../../App.svelte";
import { installMockBackend } from "../../mock/backend";
import { session } from "$lib/stores/session.svelte";

const slow = { timeout: 4000 };

beforeEach(() => {
  session.phase = "restoring";
  session.info = null;
  session.notice = null;
  session.carePlatform = false;
  installMockBackend();
});

afterEach(() => {
  history.replaceState(null, "", "/");
});

/** Renders the app and signs in with the password form (the demo user, this password). */
async function logIn(password: string) {
  const user = userEvent.setup();
  render(App);
  await user.click(await screen.findByTestId("password-login-toggle", {}, slow));
  await user.type(screen.getByTestId("login-homeserver"), "https://kring.test");
  await user.type(screen.getByTestId("login-username"), "demo");
  await user.type(screen.getByTestId("login-password"), password);
  await user.click(screen.getByTestId("login-submit"));
  return user;
}

describe("the app against the mock backend", () => {
  it("logs in, lists rooms, opens one and sends a message that goes sending → sent", async () => {
    const user = await logIn("fout");
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

  it("shows care teams: accepts an invitation, opens a conversation and starts one with a photo", async () => {
    const user = await logIn("goed");
    await user.click(await screen.findByTestId("tab-clients", {}, slow));

    const invite = await screen.findByTestId("care-team-invite", {}, slow);
    expect(invite).toHaveTextContent("Mevr. L. Smit");
    await user.click(within(invite).getByTestId("care-team-accept"));
    // Needs attention: Mw. Jansen has an unread urgent message, de Boer activity, Smit nothing yet.
    await expect
      .poll(() => screen.queryAllByTestId("client-name").map((i) => i.textContent?.trim()), slow)
      .toEqual(["Mw. A. Jansen", "Dhr. P. de Boer", "Mevr. L. Smit"]);
    expect(screen.queryByTestId("care-team-invite")).not.toBeInTheDocument();
    const [jansen] = screen.getAllByTestId("client-item");
    expect(within(jansen!).getByTestId("urgent-unread")).toHaveTextContent("Urgent");

    await user.click(jansen!);
    await expect
      .poll(() => screen.queryAllByTestId("conversation-item").map((i) => i.getAttribute("data-status")), slow)
      .toEqual(["active", "active", "archived"]);
    const [first] = screen.getAllByTestId("conversation-item");
    expect(within(first!).getByTestId("urgent-unread")).toHaveTextContent("1 urgent of vermeld bericht ongelezen");
    await user.click(first!);
    expect(screen.getByTestId("timeline-title")).toHaveTextContent("Onrustige nachten");
    expect(await screen.findByTestId("archive-conversation", {}, slow)).toBeInTheDocument();

    await user.click(screen.getByTestId("new-conversation"));
    await user.type(screen.getByTestId("subject-input"), "Wondfoto");
    await user.type(screen.getByTestId("body-input"), "Zie bijlage");
    const fatima = screen.getAllByTestId("recipient-option").find((o) => o.getAttribute("data-user-id") === "@fatima:kring.test")!;
    await user.click(within(fatima).getByRole("checkbox"));
    await user.upload(screen.getByTestId("attachment-input") as HTMLInputElement, new File(["x"], "wond.jpg"));
    await user.click(screen.getByTestId("new-conversation-submit"));

    // The new conversation opens with the first message and its photo (kind guessed from the name).
    await expect.poll(() => screen.queryByTestId("timeline-title")?.textContent, slow).toBe("Wondfoto");
    const photo = await screen.findByTestId("attachment", {}, slow);
    expect(photo).toHaveAttribute("data-kind", "image");
    expect(within(photo).getByTestId("attachment-image").getAttribute("src")).toBe("data:application/octet-stream;base64,eA==");
  }, 20_000);

  it("shows a client's care network, who is away, a stale directory, and adds someone from the directory", async () => {
    const user = await logIn("goed");
    await user.click(await screen.findByTestId("tab-clients", {}, slow));
    const jansen = (await screen.findAllByTestId("client-item", {}, slow)).find((i) => i.textContent?.includes("Jansen"))!;
    await user.click(jansen);
    await user.click(screen.getByTestId("care-network-tab"));

    const karim = await vi.waitFor(
      () => screen.getAllByTestId("participant").find((p) => p.getAttribute("data-user-id") === "@karim:brug.test")!,
      slow,
    );
    expect(karim).toHaveAttribute("data-away", "true");
    expect(karim).toHaveTextContent("Huisarts · Huisartsenpraktijk De Brug");
    expect(within(karim).getByTestId("away-now")).toHaveTextContent(/^\s*Afwezig tot /);
    const henk = screen.getAllByTestId("participant").find((p) => p.getAttribute("data-user-id") === "@henk:kring.test")!;
    expect(henk).toHaveTextContent("Zoon, mantelzorger");
    expect(screen.queryByTestId("care-network-stale")).not.toBeInTheDocument();

    await user.type(screen.getByLabelText("Naam"), "Sanne{Enter}");
    const hit = await screen.findByTestId("directory-hit", {}, slow);
    expect(hit).toHaveTextContent("Fysiotherapeut · Fysiotherapie Zwolle-Zuid");
    await user.click(within(hit).getByTestId("directory-invite"));
    await expect
      .poll(() => screen.queryAllByTestId("participant").some((p) => p.getAttribute("data-user-id") === "@sanne:fysio.test"), slow)
      .toBe(true);

    // De Boer's network: De Linde's directory is down, the data stays shown.
    await user.click(screen.getByTestId("tab-rooms"));
    await user.click(screen.getByTestId("tab-clients"));
    const deboer = (await screen.findAllByTestId("client-item", {}, slow)).find((i) => i.textContent?.includes("de Boer"))!;
    await user.click(deboer);
    await user.click(screen.getByTestId("care-network-tab"));
    expect(await screen.findByTestId("care-network-stale", {}, slow)).toHaveTextContent(
      "Mogelijk verouderd: mcsd.delinde.test was niet bereikbaar.",
    );
    const johan = screen.getAllByTestId("participant").find((p) => p.getAttribute("data-user-id") === "@johan:delinde.test")!;
    expect(within(johan).getByTestId("participant-stale")).toBeInTheDocument();
    expect(johan).toHaveTextContent("Specialist ouderengeneeskunde · Verpleeghuis De Linde");
  }, 20_000);

  it("marks verified practitioners, lists invites by e-mail and mails a new one", async () => {
    const user = await logIn("goed");
    await user.click(await screen.findByTestId("tab-clients", {}, slow));
    const jansen = (await screen.findAllByTestId("client-item", {}, slow)).find((i) => i.textContent?.includes("Jansen"))!;
    await user.click(jansen);
    await user.click(screen.getByTestId("care-network-tab"));
    const karim = await vi.waitFor(
      () => screen.getAllByTestId("participant").find((p) => p.getAttribute("data-user-id") === "@karim:brug.test")!,
      slow,
    );
    expect(within(karim).getByTestId("verified-badge")).toHaveTextContent("Geverifieerd door de organisatie");
    expect(screen.getByTestId("pending-email-invite")).toHaveTextContent("e...@voorbeeld.nl");

    await user.click(screen.getByTestId("email-invite-toggle"));
    await user.type(screen.getByTestId("email-invite-address"), "kees@kring.test");
    await user.click(screen.getByTestId("email-invite-submit"));
    expect(await screen.findByTestId("email-invite-error", {}, slow)).toHaveTextContent("hoort al bij een Kring-account");
    await user.clear(screen.getByTestId("email-invite-address"));
    await user.type(screen.getByTestId("email-invite-address"), "kees@voorbeeld.nl");
    await user.type(screen.getByTestId("email-invite-relation"), "Buurman");
    await user.click(screen.getByTestId("email-invite-submit"));
    expect(await screen.findByTestId("email-invite-done", {}, slow)).toHaveTextContent("kees@voorbeeld.nl");
    const pending = () => screen.queryAllByTestId("pending-email-invite").map((i) => i.textContent?.replace(/\s+/g, " ").trim());
    await expect.poll(pending, slow).toEqual(["e...@voorbeeld.nl Naaste · Dochter", "k...@voorbeeld.nl Naaste · Buurman"]);
  }, 20_000);

  it("signs a related person in at the care platform, confirms the address and brings the invitation", async () => {
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId("related-person-login", {}, slow));
    expect(await screen.findByTestId("user-id", {}, { timeout: 8000 })).toHaveTextContent("@els.jansen:kring.test");
    // Straight to the care teams, where the confirmation waits.
    expect(screen.getByTestId("tab-clients")).toHaveAttribute("aria-selected", "true");
    await user.type(await screen.findByTestId("confirm-email-address", {}, slow), "els.jansen@voorbeeld.nl");
    await user.click(screen.getByTestId("confirm-email-send"));
    await user.type(await screen.findByTestId("confirm-email-code", {}, slow), "000000");
    await user.click(screen.getByTestId("confirm-email-confirm"));
    expect(await screen.findByTestId("confirm-email-error", {}, slow)).toHaveTextContent("De code uit de mail klopt niet.");
    await user.clear(screen.getByTestId("confirm-email-code"));
    await user.type(screen.getByTestId("confirm-email-code"), "123456");
    await user.click(screen.getByTestId("confirm-email-confirm"));
    expect(await screen.findByTestId("confirm-email-done", {}, slow)).toHaveTextContent("els.jansen@voorbeeld.nl is bevestigd");

    const invite = await screen.findByTestId("care-team-invite", {}, slow);
    expect(invite).toHaveTextContent("Mw. A. Jansen");
    await user.click(within(invite).getByTestId("care-team-accept"));
    await expect.poll(() => screen.queryAllByTestId("client-name").map((i) => i.textContent?.trim()), slow).toEqual(["Mw. A. Jansen"]);
  }, 20_000);

  it("shows a photo inline, saves it, and sends a reply with a file that goes sending → sent", async () => {
    const user = await logIn("goed");
    const rooms = await screen.findAllByTestId("room-item", {}, slow);
    await user.click(rooms.find((r) => r.textContent?.includes("de Boer"))!);

    const photo = await screen.findByTestId("attachment", {}, slow);
    expect(within(photo).getByTestId("attachment-image").getAttribute("src")).toMatch(/^data:image\/svg\+xml,/);
    await user.click(within(photo).getByTestId("attachment-save"));
    expect(await within(photo).findByTestId("attachment-saved", {}, slow)).toHaveTextContent(
      "Opgeslagen in /home/demo/Downloads/wond.svg",
    );

    await user.click(screen.getByTestId("reply-message"));
    expect(screen.getByTestId("composer-reply")).toHaveTextContent("Antwoord op Bram Visser: Wond ziet er rustig uit");
    await user.keyboard("Dank je, zie mijn notitie");
    await user.upload(screen.getByTestId("attachment-input") as HTMLInputElement, new File(["notitie"], "notitie.txt", { type: "text/plain" }));
    await user.click(screen.getByTestId("composer-send"));

    const mine = await screen.findByText("Dank je, zie mijn notitie", {}, slow);
    const li = mine.closest<HTMLElement>("[data-testid=timeline-message]")!;
    expect(within(li).getByTestId("reply-quote")).toHaveTextContent("Antwoord op Bram Visser: Wond ziet er rustig uit");
    expect(within(li).getByTestId("attachment")).toHaveAttribute("data-filename", "notitie.txt");
    await expect.poll(() => li.getAttribute("data-send-state"), slow).toBe("sent");
    expect(screen.queryByTestId("composer-reply")).toBeNull();
  }, 20_000);

  it("demos the send queue: retry, urgent, a failure with its notice, edit, discard, offline and read receipts", async () => {
    const user = await logIn("goed");
    const rooms = await screen.findAllByTestId("room-item", {}, slow);
    const jansen = rooms.find((r) => r.textContent?.includes("Familie Jansen"))!;
    expect(jansen).toHaveTextContent("2 ongelezen berichten");
    // One of the two, Fatima's, is urgent: the row carries the urgent marker.
    expect(within(jansen).getByTestId("urgent-unread")).toHaveTextContent("1 urgent of vermeld bericht ongelezen");
    await user.click(rooms.find((r) => r.textContent?.includes("de Boer"))!);

    // The demo's failed message: retrying it gets it through.
    const seeded = await vi.waitFor(() => screen.getByText("Verband morgen om 8:00 opnieuw wisselen?").closest<HTMLElement>("li")!, slow);
    expect(within(seeded).getByTestId("send-state")).toHaveTextContent("Niet verstuurd: De server kon het bericht niet verwerken.");
    await user.click(within(seeded).getByTestId("unsent-retry"));
    await expect.poll(() => seeded.getAttribute("data-send-state"), slow).toBe("sent");

    // Urgent and "mislukt": failed for good, with the notice; edited, it goes out.
    await user.click(screen.getByTestId("composer-urgent"));
    await user.type(screen.getByTestId("composer-input"), "Dit is mislukt{Control>}{Enter}{/Control}");
    const mine = await vi.waitFor(() => screen.getByText("Dit is mislukt").closest<HTMLElement>("li")!, slow);
    expect(within(mine).getByTestId("urgent-badge")).toHaveTextContent("Urgent");
    await expect.poll(() => mine.getAttribute("data-send-state"), slow).toBe("failed");
    expect(await screen.findByTestId("send-problem", {}, slow)).toHaveTextContent(
      "Een bericht in ‘Dhr. de Boer — wondzorg’ kon niet worden verstuurd (fout op de server).",
    );
    expect(screen.getByTestId("composer-urgent")).toHaveAttribute("aria-pressed", "false");
    await user.click(within(mine).getByTestId("unsent-edit"));
    await user.clear(within(mine).getByTestId("unsent-edit-input"));
    await user.type(within(mine).getByTestId("unsent-edit-input"), "Dit is gelukt{Control>}{Enter}{/Control}");
    await expect.poll(() => mine.getAttribute("data-send-state"), slow).toBe("sent");
    expect(mine).toHaveTextContent("Dit is gelukt");

    // Another failure, thrown away.
    await user.type(screen.getByTestId("composer-input"), "Weer mislukt{Control>}{Enter}{/Control}");
    const again = await vi.waitFor(() => screen.getByText("Weer mislukt").closest<HTMLElement>("li")!, slow);
    await expect.poll(() => again.getAttribute("data-send-state"), slow).toBe("failed");
    await user.click(within(again).getByTestId("unsent-discard"));
    await user.click(within(again).getByTestId("unsent-discard-yes"));
    await expect.poll(() => screen.queryByText("Weer mislukt"), slow).toBeNull();

    // Offline: the message waits until "/online".
    await user.type(screen.getByTestId("composer-input"), "/offline{Control>}{Enter}{/Control}");
    expect(await screen.findByTestId("sync-banner", {}, slow)).toBeInTheDocument();
    await user.type(screen.getByTestId("composer-input"), "Tijdens de storing{Control>}{Enter}{/Control}");
    const waiting = await vi.waitFor(() => screen.getByText("Tijdens de storing").closest<HTMLElement>("li")!, slow);
    expect(within(waiting).getByTestId("send-state")).toHaveTextContent("Wacht op verbinding");
    await user.type(screen.getByTestId("composer-input"), "/online{Control>}{Enter}{/Control}");
    await expect.poll(() => waiting.getAttribute("data-send-state"), slow).toBe("sent");

    // Opening Familie Jansen marks it read; its urgent message carries the badge.
    await user.click(jansen);
    const urgent = await vi.waitFor(() => screen.getByText("Huisarts komt morgen om 10:00.").closest<HTMLElement>("li")!, slow);
    expect(within(urgent).getByTestId("urgent-badge")).toBeInTheDocument();
    await expect.poll(() => jansen.textContent, slow).not.toContain("ongelezen");
    expect(within(jansen).queryByTestId("urgent-unread")).toBeNull();
  }, 30_000);

  it("demos a clicked notification ('/melding') and the notification settings", async () => {
    const user = await logIn("goed");
    const rooms = await screen.findAllByTestId("room-item", {}, slow);
    await user.click(rooms.find((r) => r.textContent?.includes("Familie Jansen"))!);
    await user.type(screen.getByTestId("composer-input"), "/melding{Control>}{Enter}{/Control}");
    await expect.poll(() => screen.getByTestId("timeline-title").textContent, { timeout: 5000 }).toBe("Dhr. de Boer — wondzorg");
    expect(await screen.findByRole("combobox", { name: "Meldingen" }, slow)).toBeInTheDocument();

    await user.click(screen.getByTestId("notification-settings-toggle"));
    const showText = await screen.findByTestId("notification-show-text", {}, slow);
    expect(showText).not.toBeChecked();
    await user.click(showText);
    await user.click(screen.getByTestId("notification-settings-save"));
    expect(await screen.findByText("De instellingen zijn opgeslagen.", {}, slow)).toBeInTheDocument();
    await user.click(screen.getByTestId("notification-settings-close"));
    await user.click(screen.getByTestId("notification-settings-toggle"));
    await expect.poll(() => screen.queryByTestId("notification-show-text")?.matches(":checked"), slow).toBe(true);
  }, 20_000);

  it("signs in through the organisation: every step in turn, then the main view", async () => {
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId("org-login", {}, slow));
    expect(await screen.findByTestId("first-login-browser", {}, slow)).toHaveTextContent("Ga verder in je browser…");
    await expect
      .poll(() => screen.queryByTestId("step-find_organisation")?.getAttribute("data-state"), slow)
      .toBe("done");
    expect(screen.getByTestId("step-find_organisation")).toHaveTextContent("Ziekenhuis Aurora");
    expect(await screen.findByTestId("user-id", {}, { timeout: 8000 })).toHaveTextContent("@an.devries:kring.test");
  }, 20_000);

  it("with ?fail=<code>, fails at that code's step and can go back", async () => {
    history.replaceState(null, "", "/?fail=matrix_account_missing");
    const user = userEvent.setup();
    render(App);
    await user.click(await screen.findByTestId("org-login", {}, slow));
    const alert = await screen.findByTestId("first-login-error", {}, { timeout: 8000 });
    expect(alert).toHaveTextContent("Stap 4 van 6 is niet gelukt: Verbinden met je Matrix-server");
    expect(alert).toHaveTextContent("Vraag Ziekenhuis Aurora om je account aan te maken.");
    await user.click(screen.getByTestId("first-login-back"));
    expect(screen.getByTestId("org-login")).toBeInTheDocument();
  }, 20_000);
});
