import { beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import Timeline from "$lib/components/Timeline.svelte";
import type { TimelineItem } from "$lib/ipc";
import { attachment, backend, err, message } from "../../test/fakeBackend";

const ROOM = "!jansen:zorg.example";

beforeEach(() => backend.reset());

function props(items: TimelineItem[], extra: Record<string, unknown> = {}) {
  return {
    roomId: ROOM,
    items,
    loaded: true,
    reachedStart: false,
    paginating: false,
    roomName: "Familie Jansen",
    onloadolder: vi.fn(),
    ...extra,
  };
}

describe("Timeline", () => {
  it("shows sender, Dutch time and body of each message", () => {
    render(Timeline, props([message("1", "Goedemorgen, hoe gaat het?")]));
    const msg = screen.getByTestId("timeline-message");
    expect(msg).toHaveTextContent("Bob Jansen");
    expect(msg).toHaveTextContent("14:05");
    expect(msg).toHaveTextContent("Goedemorgen, hoe gaat het?");
    expect(msg.querySelector("time")).toHaveAttribute("datetime", "2025-03-03T13:05:00.000Z");
  });

  it("shows the send state of own messages in words", () => {
    render(
      Timeline,
      props([
        message("1", "is verstuurd", { isOwn: true }),
        message("2", "onderweg", { isOwn: true, eventId: null, sendState: { state: "sending", upload: null } }),
        message("3", "wacht", {
          isOwn: true,
          eventId: null,
          sendState: { state: "failed", code: "network", reason: "connection refused", recoverable: true },
        }),
      ]),
    );
    const [sent, sending, waiting] = screen.getAllByTestId("timeline-message");
    expect(sent).toHaveAttribute("data-send-state", "sent");
    expect(within(sent!).queryByTestId("send-state")).toBeNull();
    expect(sending).toHaveAttribute("data-send-state", "sending");
    expect(sending).toHaveTextContent("Wordt verstuurd…");
    expect(within(sending!).queryByTestId("upload-progress")).toBeNull();
    expect(waiting).toHaveAttribute("data-send-state", "failed");
    expect(waiting).toHaveTextContent("Wacht op verbinding — wordt vanzelf opnieuw verstuurd");
  });

  it("marks own messages in text, not by colour alone", () => {
    render(Timeline, props([message("1", "van mij", { isOwn: true, senderName: "An de Vries" }), message("2", "van Bob")]));
    const [own, other] = screen.getAllByTestId("timeline-message");
    expect(own).toHaveTextContent("Jij");
    expect(own).not.toHaveTextContent("An de Vries");
    expect(own).toHaveClass("own");
    expect(other).toHaveTextContent("Bob Jansen");
    expect(other).not.toHaveClass("own");
  });

  it("renders day dividers, the read marker and notices", () => {
    render(
      Timeline,
      props([
        { id: "d", content: { type: "dayDivider", timestampMs: Date.UTC(2020, 2, 2, 10) } },
        {
          id: "n",
          content: {
            type: "notice",
            notice: { kind: "membership", userId: "@bob:x", displayName: "Bob", change: "joined" },
          },
        },
        { id: "s", content: { type: "notice", notice: { kind: "setting", eventType: "m.room.power_levels" } } },
        { id: "r", content: { type: "readMarker" } },
        message("1", "hallo"),
      ]),
    );
    const separators = screen.getAllByRole("separator");
    expect(separators[0]).toHaveTextContent("maandag 2 maart 2020");
    expect(separators[1]).toHaveTextContent("Nieuwe berichten");
    expect(screen.getByText("Bob neemt deel aan het gesprek.")).toHaveClass("notice");
    // Technical setting changes are not shown to a clinician.
    expect(screen.getAllByTestId("timeline-notice")).toHaveLength(1);
    expect(screen.queryByText(/power_levels/)).toBeNull();
    expect(screen.getAllByTestId("timeline-message")).toHaveLength(1);
  });

  it("copes with items Rust sends without a timestamp", () => {
    render(
      Timeline,
      props([
        { id: "d", content: { type: "dayDivider", timestampMs: null } },
        message("1", "zonder tijd", { timestampMs: null }),
      ]),
    );
    const msg = screen.getByTestId("timeline-message");
    expect(msg).toHaveTextContent("zonder tijd");
    expect(msg.querySelector("time")).toBeNull();
    expect(screen.queryByRole("separator")).not.toBeInTheDocument();
  });

  it("offers 'load older' until the start is reached", async () => {
    const user = userEvent.setup();
    const p = props([message("1", "hallo")]);
    const view = render(Timeline, p);
    await user.click(screen.getByTestId("load-older"));
    expect(p.onloadolder).toHaveBeenCalledTimes(1);

    await view.rerender({ ...p, paginating: true });
    expect(screen.getByTestId("load-older")).toBeDisabled();

    await view.rerender({ ...p, reachedStart: true });
    expect(screen.queryByTestId("load-older")).not.toBeInTheDocument();
    expect(screen.getByText("Dit is het begin van het gesprek.")).toBeInTheDocument();
  });

  it("shows skeletons (not a blank page) while loading, and an empty state after", async () => {
    const view = render(Timeline, props([], { loaded: false }));
    const log = screen.getByTestId("timeline");
    expect(log).toHaveAttribute("aria-busy", "true");
    expect(within(log).getByText("Berichten worden geladen…")).toBeInTheDocument();
    expect(screen.queryByTestId("load-older")).not.toBeInTheDocument();

    await view.rerender(props([]));
    expect(screen.getByText(/Nog geen berichten/)).toBeInTheDocument();
  });

  it("shows each sender's role and offers delete only where allowDestroy says so", async () => {
    const onredact = vi.fn();
    render(
      Timeline,
      props(
        [
          message("1", "mag weg", { senderRole: "lead", allowDestroy: true }),
          message("2", "mag niet weg", { senderRole: "related_person", allowDestroy: false }),
        ],
        { onredact },
      ),
    );
    const [first, second] = screen.getAllByTestId("timeline-message");
    expect(within(first).getByTestId("sender-role")).toHaveTextContent("Hoofdbehandelaar");
    expect(within(second).getByTestId("sender-role")).toHaveTextContent("Naaste");
    expect(within(second).queryByTestId("redact-message")).toBeNull();
    await userEvent.click(within(first).getByTestId("redact-message"));
    expect(onredact).toHaveBeenCalledWith("$1");
  });

  it("shows no role outside care-team conversations", () => {
    render(Timeline, props([message("1", "in de demoruimte", { senderRole: null })]));
    expect(screen.queryByTestId("sender-role")).toBeNull();
  });

  it("marks a redacted message without its content", () => {
    render(
      Timeline,
      props([
        {
          id: "r",
          content: { type: "redacted", eventId: "$r", sender: "@b:x", senderName: "Bob Jansen", timestampMs: 0 },
        },
      ]),
    );
    const item = screen.getByTestId("timeline-redacted");
    expect(item).toHaveTextContent("Dit bericht is verwijderd.");
    expect(item).toHaveTextContent("Bob Jansen");
  });
});

describe("Timeline: attachments", () => {
  /** The address attachmentUrl gives outside the Tauri shell (as convertFileSrc does on Linux). */
  const mediaUrl = (eventId: string, index: number) =>
    `kring-media://localhost/${encodeURIComponent(`${encodeURIComponent(ROOM)}/${encodeURIComponent(eventId)}/${index}`)}`;

  it("shows an image inline from the kring-media scheme, with its name as alt text", () => {
    render(
      Timeline,
      props([
        message("1", "Wond na het verbinden", {
          attachments: [attachment(0, "wond.jpg", { kind: "image", mime: "image/jpeg", size: 245_000 })],
        }),
      ]),
    );
    const item = screen.getByTestId("attachment");
    expect(item).toHaveAttribute("data-kind", "image");
    expect(item).toHaveAttribute("data-filename", "wond.jpg");
    const img = within(item).getByTestId("attachment-image");
    expect(img).toHaveAttribute("src", mediaUrl("$1", 0));
    expect(img).toHaveAttribute("alt", "wond.jpg");
    expect(img).toHaveAttribute("loading", "lazy");
    expect(item).toHaveTextContent("245 kB");
    // The body is still shown above the files.
    expect(screen.getByTestId("timeline-message")).toHaveTextContent("Wond na het verbinden");
  });

  it("shows other files as a row with kind, name and size, in the message's order", () => {
    render(
      Timeline,
      props([
        message("1", "Zie bijlagen", {
          attachments: [
            attachment(0, "medicatielijst.pdf", { mime: "application/pdf", size: 48_213 }),
            attachment(1, "overdracht.m4a", { kind: "audio", size: 1_400_000 }),
            attachment(2, "zonder-grootte.txt"),
          ],
        }),
      ]),
    );
    const [pdf, audio, unknown] = screen.getAllByTestId("attachment");
    expect(screen.queryByTestId("attachment-image")).toBeNull();
    expect(pdf).toHaveAttribute("data-kind", "file");
    expect(pdf).toHaveTextContent("Bestand:");
    expect(pdf).toHaveTextContent("medicatielijst.pdf");
    expect(pdf).toHaveTextContent("48 kB");
    expect(audio).toHaveAttribute("data-kind", "audio");
    expect(audio).toHaveTextContent("Geluid:");
    expect(audio).toHaveTextContent("1,4 MB");
    expect(unknown).toHaveTextContent("zonder-grootte.txt");
  });

  it("saves an attachment through Rust and says where it went", async () => {
    const user = userEvent.setup();
    render(Timeline, props([message("1", "", { attachments: [attachment(0, "a.pdf"), attachment(1, "b.pdf")] })]));
    const [, second] = screen.getAllByTestId("attachment");
    const save = within(second!).getByTestId("attachment-save");
    expect(save).toHaveAccessibleName("b.pdf opslaan");
    await user.click(save);
    expect(backend.commands.saveAttachment).toHaveBeenCalledWith(ROOM, "$1", 1);
    expect(await within(second!).findByTestId("attachment-saved")).toHaveTextContent(
      "Opgeslagen in /home/an/Downloads/1-1",
    );
    expect(screen.getAllByTestId("attachment-saved")).toHaveLength(1);
  });

  it("shows a failed save as readable text and tells the parent", async () => {
    backend.commands.saveAttachment.mockResolvedValueOnce(err("attachment_unavailable", "decryption failed"));
    const onerror = vi.fn();
    const user = userEvent.setup();
    render(Timeline, props([message("1", "foto", { attachments: [attachment(0, "wond.jpg", { kind: "image" })] })], { onerror }));
    await user.click(screen.getByTestId("attachment-save"));
    expect(await screen.findByTestId("attachment-save-error")).toHaveTextContent(
      "De bijlage kon niet worden opgehaald. Probeer het later opnieuw.",
    );
    expect(screen.getByText("De bijlage is niet opgeslagen")).toBeInTheDocument();
    expect(screen.queryByTestId("attachment-saved")).toBeNull();
    expect(onerror).toHaveBeenCalledWith({ code: "attachment_unavailable", detail: "decryption failed" });
  });

  it("falls back to the file row when an image cannot be shown", async () => {
    render(Timeline, props([message("1", "", { attachments: [attachment(0, "wond.jpg", { kind: "image" })] })]));
    await fireEvent.error(screen.getByTestId("attachment-image"));
    expect(screen.queryByTestId("attachment-image")).toBeNull();
    expect(screen.getByTestId("attachment")).toHaveTextContent("wond.jpg");
    expect(screen.getByTestId("attachment-save")).toBeInTheDocument();
  });

  it("offers neither image nor save while the message is still being sent", () => {
    render(
      Timeline,
      props([
        message("local-1", "", {
          isOwn: true,
          eventId: null,
          sendState: { state: "sending", upload: null },
          attachments: [attachment(0, "wond.jpg", { kind: "image", size: 2048 })],
        }),
      ]),
    );
    expect(screen.getByTestId("attachment")).toHaveTextContent("wond.jpg");
    expect(screen.queryByTestId("attachment-image")).toBeNull();
    expect(screen.queryByTestId("attachment-save")).toBeNull();
  });

  it("shows a file's name once when the body is only that name (as other clients send files)", () => {
    render(Timeline, props([message("1", "scan.pdf", { attachments: [attachment(0, "scan.pdf")] })]));
    const msg = screen.getByTestId("timeline-message");
    expect(msg.querySelector(".body")).toBeNull();
    expect(within(msg).getAllByText("scan.pdf")).toHaveLength(1);
  });
});

describe("Timeline: replies", () => {
  it("offers 'Beantwoorden' on every message the server has, and hands the item over", async () => {
    const onreply = vi.fn();
    const items = [
      message("1", "Hoe gaat het?"),
      message("2", "van mij", { isOwn: true }),
      message("local-3", "onderweg", { isOwn: true, eventId: null, sendState: { state: "sending", upload: null } }),
    ];
    render(Timeline, props(items, { onreply }));
    const [other, own, sending] = screen.getAllByTestId("timeline-message");
    expect(within(other!).getByTestId("reply-message")).toHaveTextContent("Beantwoorden");
    expect(within(other!).getByTestId("reply-message")).toHaveAccessibleName("Bericht van Bob Jansen beantwoorden");
    expect(within(own!).getByTestId("reply-message")).toHaveAccessibleName("Je eigen bericht beantwoorden");
    expect(within(sending!).queryByTestId("reply-message")).toBeNull();
    await userEvent.click(within(other!).getByTestId("reply-message"));
    expect(onreply).toHaveBeenCalledWith(items[0]);
  });

  it("quotes the sender and the start of the message a reply answers", () => {
    const long = `Mevrouw Jansen heeft vannacht onrustig geslapen en is twee keer uit bed gegaan.\nGraag extra controle.`;
    render(
      Timeline,
      props([
        message("1", long, { senderName: "Fatima Yilmaz" }),
        message("2", "Ik kijk vanmiddag", { isOwn: true, inReplyTo: "$1" }),
        message("3", "Prima", { inReplyTo: "$2" }),
        message("4", "Dat was lang geleden", { inReplyTo: "$not-loaded" }),
      ]),
    );
    const [first, toFatima, toMe, toOld] = screen.getAllByTestId("timeline-message");
    expect(within(first!).queryByTestId("reply-quote")).toBeNull();
    const quote = within(toFatima!).getByTestId("reply-quote");
    expect(quote.textContent?.trim()).toBe(
      "Antwoord op Fatima Yilmaz: Mevrouw Jansen heeft vannacht onrustig geslapen en is twee keer uit bed gegaan.…",
    );
    expect(within(toMe!).getByTestId("reply-quote")).toHaveTextContent("Antwoord op jouw bericht: Ik kijk vanmiddag");
    expect(within(toOld!).getByTestId("reply-quote")).toHaveTextContent("Antwoord op een eerder bericht");
  });

  it("says so when the message answered was deleted", () => {
    render(
      Timeline,
      props([
        { id: "r", content: { type: "redacted", eventId: "$r", sender: "@b:x", senderName: "Bob Jansen", timestampMs: 0 } },
        message("2", "Wat stond er?", { inReplyTo: "$r" }),
      ]),
    );
    expect(screen.getByTestId("reply-quote")).toHaveTextContent("Antwoord op Bob Jansen: Dit bericht is verwijderd.");
  });
});
