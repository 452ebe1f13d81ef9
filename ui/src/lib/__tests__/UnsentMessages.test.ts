// Own messages that are not sent (yet), in the timeline: their state in words,
// the upload's progress, and retry / edit / discard for the ones that failed.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import Timeline from "$lib/components/Timeline.svelte";
import { SEND_FAILURES, type SendFailure, type SendState, type TimelineItem } from "$lib/ipc";
import { i18n } from "$lib/i18n/index.svelte";
import { sendProblems } from "$lib/stores/sendProblems.svelte";
import { attachment, backend, err, message, sendProblem } from "../../test/fakeBackend";

const ROOM = "!jansen:zorg.example";

beforeEach(() => backend.reset());
afterEach(() => {
  i18n.locale = "nl";
});

function props(items: TimelineItem[], extra: Record<string, unknown> = {}) {
  return {
    roomId: ROOM,
    items,
    loaded: true,
    reachedStart: true,
    paginating: false,
    roomName: "Familie Jansen",
    onloadolder: vi.fn(),
    ...extra,
  };
}

const own = (id: string, body: string, sendState: SendState, extra = {}) =>
  message(id, body, { isOwn: true, eventId: null, sendState, ...extra });
const failed = (code: SendFailure, recoverable = false): SendState => ({
  state: "failed",
  code,
  reason: `technical ${code}`,
  recoverable,
});

describe("sending", () => {
  it("shows the upload's progress with the percentage and which file", () => {
    render(
      Timeline,
      props([
        own(
          "local-1",
          "Wondfoto's",
          { state: "sending", upload: { index: 1, sentBytes: 1_500, totalBytes: 3_000 } },
          { attachments: [attachment(0, "voor.jpg", { size: 2_000 }), attachment(1, "na.jpg", { size: 3_000 })] },
        ),
      ]),
    );
    const state = screen.getByTestId("send-state");
    expect(state).toHaveAttribute("data-phase", "sending");
    expect(state).toHaveTextContent("Wordt verstuurd…");
    const upload = within(state).getByTestId("upload-progress");
    expect(upload).toHaveTextContent("Bijlage 2 van 2, na.jpg: 50%");
    const bar = within(upload).getByRole("progressbar", { name: "Uploaden van na.jpg" });
    expect(bar).toHaveAttribute("value", "50");
    expect(bar).toHaveAttribute("max", "100");
  });

  it("names a single file without counting", () => {
    render(
      Timeline,
      props([
        own("local-1", "", { state: "sending", upload: { index: 0, sentBytes: 999, totalBytes: 1_000 } }, {
          attachments: [attachment(0, "scan.pdf", { size: 1_000 })],
        }),
      ]),
    );
    expect(screen.getByTestId("upload-progress")).toHaveTextContent("scan.pdf: 99%");
  });

  it("shows an indeterminate bar while Rust does not know the sizes yet", () => {
    render(
      Timeline,
      props([
        own("local-1", "", { state: "sending", upload: { index: 0, sentBytes: null, totalBytes: null } }, {
          attachments: [attachment(0, "scan.pdf")],
        }),
      ]),
    );
    const upload = screen.getByTestId("upload-progress");
    expect(upload.textContent?.trim()).toBe("scan.pdf");
    expect(within(upload).getByRole("progressbar", { name: "Uploaden van scan.pdf" })).not.toHaveAttribute("value");
  });

  it("says it waits for the connection while sync is offline, instead of sending", () => {
    render(
      Timeline,
      props([own("local-1", "Bel me even", { state: "sending", upload: { index: 0, sentBytes: 0, totalBytes: 10 } }, {
        attachments: [attachment(0, "a.pdf")],
      })], { offline: true }),
    );
    const state = screen.getByTestId("send-state");
    expect(state).toHaveAttribute("data-phase", "waiting");
    expect(state).toHaveTextContent("Wacht op verbinding");
    expect(state).not.toHaveTextContent("Wordt verstuurd");
    expect(screen.queryByTestId("upload-progress")).toBeNull();
    expect(screen.queryByTestId("unsent-actions")).toBeNull();
  });
});

describe("failed, the SDK retries by itself", () => {
  it("says it is sent again by itself, and 'Nu opnieuw' retries at once", async () => {
    const user = userEvent.setup();
    render(Timeline, props([own("local-7", "Medicatie gegeven", failed("network", true))]));
    expect(screen.getByTestId("send-state")).toHaveTextContent("Wacht op verbinding — wordt vanzelf opnieuw verstuurd");
    expect(screen.queryByTestId("unsent-edit")).toBeNull();
    expect(screen.queryByTestId("unsent-discard")).toBeNull();
    await user.click(screen.getByRole("button", { name: "Nu opnieuw" }));
    expect(backend.commands.retrySend).toHaveBeenCalledWith(ROOM, "local-7");
  });
});

describe("failed for good", () => {
  it("says why in a readable sentence per code, with the technical reason under Details", () => {
    render(Timeline, props(SEND_FAILURES.map((code, i) => own(`local-${i}`, `bericht ${i}`, failed(code)))));
    const texts = screen.getAllByTestId("send-state").map((s) => s.querySelector(".line")?.textContent?.trim());
    expect(texts).toEqual([
      "Niet verstuurd: Er is geen verbinding met de server.",
      "Niet verstuurd: Het bericht is te groot voor de server. Maak het korter of verdeel het over meerdere berichten.",
      "Niet verstuurd: Je mag in dit gesprek geen berichten (meer) versturen.",
      expect.stringContaining("Niet verstuurd: De server neemt even geen berichten aan"),
      "Niet verstuurd: De server kon het bericht niet verwerken.",
      expect.stringContaining("Niet verstuurd: De versleuteling vraagt aandacht"),
      "Niet verstuurd: Er ging iets mis bij het versturen.",
    ]);
    // A drawn warning sign (emoji are missing on some desktops), hidden from screen readers.
    for (const line of screen.getAllByTestId("send-state").map((s) => s.querySelector(".line")!)) {
      expect(line.querySelector('svg[data-icon="warning"]')).toHaveAttribute("aria-hidden", "true");
    }
    const first = screen.getAllByTestId("send-state")[1]!;
    expect(within(first).getByText("Details")).toBeInTheDocument();
    expect(within(first).getByText("technical tooLarge")).toBeInTheDocument();
  });

  it("offers Opnieuw, Bewerken and Verwijderen; Opnieuw retries that item", async () => {
    const user = userEvent.setup();
    render(Timeline, props([own("local-3", "Te groot", failed("tooLarge"))]));
    const actions = screen.getByTestId("unsent-actions");
    expect(within(actions).getAllByRole("button").map((b) => b.textContent?.trim())).toEqual([
      "Opnieuw",
      "Bewerken",
      "Verwijderen",
    ]);
    expect(within(actions).getAllByRole("button").map((b) => b.querySelector("svg[aria-hidden=true]")?.getAttribute("data-icon"))).toEqual([
      "retry",
      "edit",
      "trash",
    ]);
    await user.click(within(actions).getByRole("button", { name: "Opnieuw" }));
    expect(backend.commands.retrySend).toHaveBeenCalledWith(ROOM, "local-3");
    expect(backend.commands.discardUnsent).not.toHaveBeenCalled();
  });

  it("shows a failed retry as readable text and tells the parent", async () => {
    backend.commands.retrySend.mockResolvedValueOnce(err("homeserver_unreachable", "timeout"));
    const onerror = vi.fn();
    const user = userEvent.setup();
    render(Timeline, props([own("local-3", "hallo", failed("server"))], { onerror }));
    await user.click(screen.getByTestId("unsent-retry"));
    const error = await screen.findByTestId("unsent-error");
    expect(error).toHaveTextContent("De server van je organisatie is nu niet bereikbaar.");
    expect(screen.getByText("Opnieuw versturen is niet gelukt")).toBeInTheDocument();
    expect(onerror).toHaveBeenCalledWith({ code: "homeserver_unreachable", detail: "timeout" });
    // Still there to try again.
    expect(screen.getByTestId("unsent-retry")).toBeEnabled();
  });

  it("edits the text in place and sends the new text", async () => {
    const user = userEvent.setup();
    render(Timeline, props([own("local-4", "Graag bellen om 15:00", failed("server"))]));
    await user.click(screen.getByTestId("unsent-edit"));
    const input = screen.getByRole("textbox", { name: "Tekst van het niet verstuurde bericht" });
    expect(input).toHaveFocus();
    expect(input).toHaveValue("Graag bellen om 15:00");
    await user.clear(input);
    await user.type(input, "Graag bellen om 16:00");
    await user.click(screen.getByTestId("unsent-edit-save"));
    expect(backend.commands.editUnsent).toHaveBeenCalledWith(ROOM, "local-4", "Graag bellen om 16:00");
    await vi.waitFor(() => expect(screen.queryByTestId("unsent-editor")).toBeNull());
  });

  it("keeps the edited text and says why when saving the edit fails", async () => {
    backend.commands.editUnsent.mockResolvedValueOnce(err("send_failed", "queue disabled"));
    const user = userEvent.setup();
    render(Timeline, props([own("local-4", "oud", failed("server"))]));
    await user.click(screen.getByTestId("unsent-edit"));
    const input = screen.getByTestId("unsent-edit-input");
    await user.clear(input);
    await user.type(input, "nieuw{Control>}{Enter}{/Control}");
    expect(backend.commands.editUnsent).toHaveBeenCalledWith(ROOM, "local-4", "nieuw");
    expect(await screen.findByTestId("unsent-error")).toHaveTextContent("Het bericht is niet verstuurd. Probeer het opnieuw.");
    expect(screen.getByText("Het bericht is niet aangepast")).toBeInTheDocument();
    expect(screen.getByTestId("unsent-edit-input")).toHaveValue("nieuw");
    expect(screen.getByTestId("unsent-edit-save")).toBeEnabled();
  });

  it("Escape cancels the edit: nothing is sent, the message is unchanged and focus returns to Bewerken", async () => {
    const user = userEvent.setup();
    render(Timeline, props([own("local-4", "Zoals het was", failed("server"))]));
    await user.click(screen.getByTestId("unsent-edit"));
    await user.type(screen.getByTestId("unsent-edit-input"), " en meer");
    await user.keyboard("{Escape}");
    expect(screen.queryByTestId("unsent-editor")).toBeNull();
    expect(backend.commands.editUnsent).not.toHaveBeenCalled();
    expect(screen.getByTestId("timeline-message")).toHaveTextContent("Zoals het was");
    expect(screen.getByTestId("unsent-edit")).toHaveFocus();
  });

  it("does not save an empty text", async () => {
    const user = userEvent.setup();
    render(Timeline, props([own("local-4", "x", failed("server"))]));
    await user.click(screen.getByTestId("unsent-edit"));
    await user.clear(screen.getByTestId("unsent-edit-input"));
    expect(screen.getByTestId("unsent-edit-save")).toBeDisabled();
  });

  it("asks before deleting; 'Nee' keeps it, 'Ja' discards that item", async () => {
    const user = userEvent.setup();
    render(Timeline, props([own("local-5", "Dit wil ik kwijt", failed("forbidden"))]));
    await user.click(screen.getByTestId("unsent-discard"));
    const confirm = screen.getByTestId("unsent-discard-confirm");
    expect(confirm).toHaveTextContent("Dit bericht verwijderen? Wat je schreef (en de bijlagen) gaat dan verloren.");
    expect(within(confirm).getByRole("button", { name: "Nee, bewaren" })).toHaveFocus();
    await user.click(within(confirm).getByRole("button", { name: "Nee, bewaren" }));
    expect(backend.commands.discardUnsent).not.toHaveBeenCalled();
    expect(screen.getByTestId("unsent-discard")).toHaveFocus();

    await user.click(screen.getByTestId("unsent-discard"));
    await user.keyboard("{Escape}");
    expect(screen.queryByTestId("unsent-discard-confirm")).toBeNull();
    expect(backend.commands.discardUnsent).not.toHaveBeenCalled();

    await user.click(screen.getByTestId("unsent-discard"));
    await user.click(screen.getByRole("button", { name: "Ja, verwijderen" }));
    expect(backend.commands.discardUnsent).toHaveBeenCalledWith(ROOM, "local-5");
  });

  it("shows a failed discard readably and keeps the message", async () => {
    backend.commands.discardUnsent.mockResolvedValueOnce(err("storage", "disk full"));
    const user = userEvent.setup();
    render(Timeline, props([own("local-5", "blijft", failed("other"))]));
    await user.click(screen.getByTestId("unsent-discard"));
    await user.click(screen.getByTestId("unsent-discard-yes"));
    expect(await screen.findByTestId("unsent-error")).toHaveTextContent("Kring kan de gegevens op dit apparaat niet lezen");
    expect(screen.getByText("Het bericht is niet verwijderd")).toBeInTheDocument();
    expect(screen.getByTestId("timeline-message")).toHaveTextContent("blijft");
    expect(screen.getByTestId("unsent-discard")).toBeInTheDocument();
  });

  it("has the same words in English", async () => {
    i18n.locale = "en";
    const user = userEvent.setup();
    render(Timeline, props([own("local-6", "x", failed("tooLarge"))]));
    expect(screen.getByTestId("send-state")).toHaveTextContent(
      "Not sent: The message is too large for the server. Make it shorter or split it over several messages.",
    );
    await user.click(screen.getByRole("button", { name: "Delete" }));
    expect(screen.getByRole("button", { name: "Yes, delete" })).toBeInTheDocument();
  });
});

describe("the room's send-problem notice", () => {
  const OTHER = "!wijk:zorg.example";
  const roomsWithNotice = () => sendProblems.items.map((p) => p.roomId);

  beforeEach(() => {
    sendProblems.items = [];
    sendProblems.apply(sendProblem(ROOM, "Familie Jansen", { code: "tooLarge" }));
    sendProblems.apply(sendProblem(OTHER, "Wijkteam Noord"));
  });
  afterEach(() => {
    sendProblems.items = [];
  });

  it("goes away once Opnieuw was accepted; another room's stays", async () => {
    const user = userEvent.setup();
    render(Timeline, props([own("local-3", "hallo", failed("tooLarge"))]));
    expect(roomsWithNotice()).toEqual([ROOM, OTHER]);
    await user.click(screen.getByTestId("unsent-retry"));
    await vi.waitFor(() => expect(roomsWithNotice()).toEqual([OTHER]));
  });

  it("goes away once 'Nu opnieuw' was accepted", async () => {
    const user = userEvent.setup();
    render(Timeline, props([own("local-3", "hallo", failed("network", true))]));
    await user.click(screen.getByTestId("unsent-retry-now"));
    await vi.waitFor(() => expect(roomsWithNotice()).toEqual([OTHER]));
  });

  it("goes away once the message was deleted", async () => {
    const user = userEvent.setup();
    render(Timeline, props([own("local-5", "weg", failed("forbidden"))]));
    await user.click(screen.getByTestId("unsent-discard"));
    expect(roomsWithNotice()).toEqual([ROOM, OTHER]); // only asked so far
    await user.click(screen.getByTestId("unsent-discard-yes"));
    await vi.waitFor(() => expect(roomsWithNotice()).toEqual([OTHER]));
  });

  it("goes away once the edited text was accepted, not when the edit is cancelled", async () => {
    const user = userEvent.setup();
    render(Timeline, props([own("local-4", "te lang", failed("tooLarge"))]));
    await user.click(screen.getByTestId("unsent-edit"));
    await user.keyboard("{Escape}");
    expect(roomsWithNotice()).toEqual([ROOM, OTHER]);
    await user.click(screen.getByTestId("unsent-edit"));
    await user.clear(screen.getByTestId("unsent-edit-input"));
    await user.type(screen.getByTestId("unsent-edit-input"), "korter");
    await user.click(screen.getByTestId("unsent-edit-save"));
    await vi.waitFor(() => expect(roomsWithNotice()).toEqual([OTHER]));
  });

  it("stays while Rust refused the action: the message is still there", async () => {
    backend.commands.retrySend.mockResolvedValueOnce(err("homeserver_unreachable", "timeout"));
    backend.commands.discardUnsent.mockResolvedValueOnce(err("storage", "disk full"));
    backend.commands.editUnsent.mockResolvedValueOnce(err("send_failed", "queue disabled"));
    const user = userEvent.setup();
    render(Timeline, props([own("local-3", "hallo", failed("server"))]));
    await user.click(screen.getByTestId("unsent-retry"));
    await screen.findByTestId("unsent-error");
    await user.click(screen.getByTestId("unsent-discard"));
    await user.click(screen.getByTestId("unsent-discard-yes"));
    await vi.waitFor(() => expect(screen.getByText("Het bericht is niet verwijderd")).toBeInTheDocument());
    await user.click(screen.getByTestId("unsent-edit"));
    await user.type(screen.getByTestId("unsent-edit-input"), "!");
    await user.click(screen.getByTestId("unsent-edit-save"));
    await screen.findByText("Het bericht is niet aangepast");
    expect(roomsWithNotice()).toEqual([ROOM, OTHER]);
  });
});

describe("urgent messages", () => {
  it("carry an 'Urgent' badge with an icon and the word, own and others'", () => {
    render(
      Timeline,
      props([
        message("1", "Mevrouw is gevallen", { urgent: true }),
        message("2", "Ik kom eraan", { isOwn: true, urgent: true }),
        message("3", "Gewoon bericht"),
      ]),
    );
    const [other, mine, plain] = screen.getAllByTestId("timeline-message");
    for (const item of [other!, mine!]) {
      expect(item).toHaveAttribute("data-urgent", "true");
      const badge = within(item).getByTestId("urgent-badge");
      expect(badge).toHaveTextContent("Urgent");
      expect(badge.querySelector('svg[data-icon="urgent"]')).toHaveAttribute("aria-hidden", "true");
    }
    expect(plain).toHaveAttribute("data-urgent", "false");
    expect(within(plain!).queryByTestId("urgent-badge")).toBeNull();
  });
});
