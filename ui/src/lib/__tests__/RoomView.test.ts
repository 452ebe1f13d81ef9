import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import RoomView from "$lib/components/RoomView.svelte";
import { TimelineStore } from "$lib/stores/timeline.svelte";
import { composerDrafts } from "$lib/stores/drafts";
import { attachment, backend, err, message } from "../../test/fakeBackend";

let timeline: TimelineStore;

beforeEach(async () => {
  backend.reset();
  composerDrafts.clear();
  timeline = new TimelineStore();
  await timeline.open("!a");
});

afterEach(() => timeline.close());

function setup() {
  const user = userEvent.setup();
  render(RoomView, { roomId: "!a", name: "Familie Jansen", timeline, onback: vi.fn(), onerror: vi.fn() });
  return user;
}

describe("RoomView: timeline and composer together", () => {
  it("'Beantwoorden' puts the composer in reply mode, focused; the reply goes out with its event id", async () => {
    const user = setup();
    backend.pushTimeline([
      {
        op: "reset",
        values: [
          message("1", "Kan iemand vanmiddag de wond bekijken?", { senderName: "Bram Visser" }),
          message("2", "Ik ben er om 4 uur", { senderName: "Sara Bakker" }),
        ],
      },
    ]);
    const [first] = await screen.findAllByTestId("timeline-message");
    await user.click(within(first!).getByTestId("reply-message"));

    expect(screen.getByTestId("composer-reply")).toHaveTextContent(
      "Antwoord op Bram Visser: Kan iemand vanmiddag de wond bekijken?",
    );
    expect(screen.getByTestId("composer-input")).toHaveFocus();
    await user.keyboard("Ik ga{Control>}{Enter}{/Control}");
    expect(backend.commands.sendMessage).toHaveBeenCalledWith("!a", "Ik ga", [], "$1", false);
    await vi.waitFor(() => expect(screen.queryByTestId("composer-reply")).toBeNull());

    // Rust's echo of the reply quotes what it answers.
    backend.pushTimeline([
      { op: "pushBack", value: message("3", "Ik ga", { isOwn: true, inReplyTo: "$1" }) },
    ]);
    await vi.waitFor(() => expect(screen.getAllByTestId("timeline-message")).toHaveLength(3));
    const reply = screen.getAllByTestId("timeline-message")[2]!;
    expect(within(reply).getByTestId("reply-quote")).toHaveTextContent("Antwoord op Bram Visser");
  });

  it("choosing another message to answer replaces the first", async () => {
    const user = setup();
    backend.pushTimeline([{ op: "reset", values: [message("1", "eerste"), message("2", "tweede")] }]);
    const buttons = await screen.findAllByTestId("reply-message");
    await user.click(buttons[0]!);
    await user.click(buttons[1]!);
    expect(screen.getByTestId("composer-reply")).toHaveTextContent("tweede");
    expect(screen.getByTestId("composer-reply")).not.toHaveTextContent("eerste");
  });

  it("shows a room's attachments with addresses for that room", async () => {
    setup();
    backend.pushTimeline([
      { op: "reset", values: [message("1", "foto", { attachments: [attachment(0, "wond.png", { kind: "image" })] })] },
    ]);
    const img = await screen.findByTestId("attachment-image");
    expect(img.getAttribute("src")).toContain(encodeURIComponent(encodeURIComponent("!a")));
  });
});

describe("RoomView: read receipts", () => {
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const focused = (value: boolean) => vi.spyOn(document, "hasFocus").mockReturnValue(value);
  afterEach(() => vi.restoreAllMocks());

  it("marks the conversation read once it is shown (debounced: one call)", async () => {
    focused(true);
    setup();
    backend.pushTimeline([{ op: "reset", values: [message("1", "hallo")] }]);
    await vi.waitFor(() => expect(backend.commands.markRead).toHaveBeenCalledWith("!a"));
    await wait(600);
    expect(backend.commands.markRead).toHaveBeenCalledTimes(1);
  });

  it("marks new items read while the window has focus, not while it has not", async () => {
    const hasFocus = focused(true);
    setup();
    backend.pushTimeline([{ op: "reset", values: [message("1", "hallo")] }]);
    await vi.waitFor(() => expect(backend.commands.markRead).toHaveBeenCalledTimes(1));

    backend.pushTimeline([{ op: "pushBack", value: message("2", "nieuw") }]);
    await vi.waitFor(() => expect(backend.commands.markRead).toHaveBeenCalledTimes(2));

    hasFocus.mockReturnValue(false);
    backend.pushTimeline([{ op: "pushBack", value: message("3", "terwijl je weg bent") }]);
    await wait(700);
    expect(backend.commands.markRead).toHaveBeenCalledTimes(2);

    // Coming back to the window counts as reading what arrived meanwhile.
    hasFocus.mockReturnValue(true);
    window.dispatchEvent(new FocusEvent("focus"));
    await vi.waitFor(() => expect(backend.commands.markRead).toHaveBeenCalledTimes(3));
    expect(backend.commands.markRead).toHaveBeenLastCalledWith("!a");
  });

  it("does not mark a room read that was left before the delay ran out", async () => {
    focused(true);
    const view = render(RoomView, { roomId: "!a", name: "A", timeline, onback: vi.fn(), onerror: vi.fn() });
    await view.rerender({ roomId: "!b", name: "B", timeline, onback: vi.fn(), onerror: vi.fn() });
    await vi.waitFor(() => expect(backend.commands.markRead).toHaveBeenCalledWith("!b"));
    await wait(100);
    expect(backend.commands.markRead).not.toHaveBeenCalledWith("!a");
  });

  it("only logs a failed receipt: the conversation stays usable", async () => {
    focused(true);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    backend.commands.markRead.mockResolvedValue(err("homeserver_unreachable", "timeout"));
    const user = setup();
    backend.pushTimeline([{ op: "reset", values: [message("1", "hallo")] }]);
    await vi.waitFor(() => expect(warn).toHaveBeenCalledWith("markRead failed: homeserver_unreachable"));
    expect(screen.queryByRole("alert")).toBeNull();
    await user.type(screen.getByTestId("composer-input"), "gaat door{Control>}{Enter}{/Control}");
    expect(backend.commands.sendMessage).toHaveBeenCalledWith("!a", "gaat door", [], null, false);
  });
});
