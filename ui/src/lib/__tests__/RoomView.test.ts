import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import RoomView from "$lib/components/RoomView.svelte";
import { TimelineStore } from "$lib/stores/timeline.svelte";
import { composerDrafts } from "$lib/stores/drafts";
import { attachment, backend, message } from "../../test/fakeBackend";

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
    expect(backend.commands.sendMessage).toHaveBeenCalledWith("!a", "Ik ga", [], "$1");
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
