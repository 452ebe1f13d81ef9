import { describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import Timeline from "$lib/components/Timeline.svelte";
import type { TimelineItem } from "$lib/ipc";
import { message } from "../../test/fakeBackend";

function props(items: TimelineItem[], extra: Record<string, unknown> = {}) {
  return {
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
        message("2", "onderweg", { isOwn: true, eventId: null, sendState: { state: "sending" } }),
        message("3", "niet gelukt", {
          isOwn: true,
          eventId: null,
          sendState: { state: "failed", reason: "geen verbinding", recoverable: true },
        }),
      ]),
    );
    const [sent, sending, failed] = screen.getAllByTestId("timeline-message");
    expect(sent).toHaveAttribute("data-send-state", "sent");
    expect(sent).not.toHaveTextContent("verzenden");
    expect(sending).toHaveAttribute("data-send-state", "sending");
    expect(sending).toHaveTextContent("verzenden…");
    expect(failed).toHaveAttribute("data-send-state", "failed");
    expect(failed).toHaveTextContent("mislukt: geen verbinding");
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
