// Long message bodies in the timeline: the start, "Toon alles" for the rest
// and "Minder" to shorten it again; for every message, sent or not.
import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { BODY_LIMITS, clampText } from "$lib/longText";
import Timeline from "$lib/components/Timeline.svelte";
import { i18n } from "$lib/i18n/index.svelte";
import type { TimelineItem } from "$lib/ipc";
import { message } from "../../test/fakeBackend";

afterEach(() => {
  i18n.locale = "nl";
});

const lines = (n: number) => Array.from({ length: n }, (_, i) => `Regel ${i + 1}`).join("\n");
const words = (chars: number) => "woord ".repeat(Math.ceil(chars / 6)).slice(0, chars);

describe("clampText", () => {
  it("leaves a short text whole", () => {
    expect(clampText("Graag bellen om 15:00")).toBeNull();
    expect(clampText(lines(BODY_LIMITS.lines))).toBeNull();
    expect(clampText(words(BODY_LIMITS.chars))).toBeNull();
  });

  it("leaves a text only a little over the limits whole", () => {
    expect(clampText(lines(BODY_LIMITS.lines + 3))).toBeNull();
    expect(clampText(words(1_150))).toBeNull();
  });

  it("keeps the first 12 lines of a text with many", () => {
    expect(clampText(lines(40))).toBe(lines(12));
  });

  it("keeps about the first 1,000 characters, ending at a word", () => {
    const cut = clampText(words(70_000))!;
    expect(cut.length).toBeLessThanOrEqual(BODY_LIMITS.chars);
    expect(cut.length).toBeGreaterThan(BODY_LIMITS.chars * 0.8);
    expect(cut.endsWith("woord")).toBe(true);
  });

  it("cuts a text without spaces at the limit", () => {
    expect(clampText("x".repeat(5_000))).toBe("x".repeat(BODY_LIMITS.chars));
  });
});

function props(items: TimelineItem[]) {
  return {
    roomId: "!a:zorg.example",
    items,
    loaded: true,
    reachedStart: true,
    paginating: false,
    roomName: "Familie Jansen",
    onloadolder: vi.fn(),
  };
}

const HUGE = `Uitgebreide overdracht: ${words(70_000)}EINDE`;

describe("Timeline: a long message", () => {
  it("shows the start with 'Toon alles'; it opens and closes again, from the keyboard too", async () => {
    const user = userEvent.setup();
    render(Timeline, props([message("1", HUGE)]));
    const body = screen.getByTestId("message-body");
    expect(body.textContent!.length).toBeLessThan(1_100);
    expect(body.textContent).toMatch(/^Uitgebreide overdracht: woord/);
    expect(body.textContent).toMatch(/…$/);
    expect(body).not.toHaveTextContent("EINDE");
    const toggle = screen.getByRole("button", { name: "Toon alles" });
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    expect(toggle).toHaveAttribute("aria-controls", body.id);

    await user.click(toggle);
    expect(body.textContent).toBe(HUGE);
    expect(toggle).toHaveAttribute("aria-expanded", "true");
    expect(toggle).toHaveTextContent("Minder");

    // Keyboard: the button keeps the focus, Enter and Space work.
    expect(toggle).toHaveFocus();
    await user.keyboard("{Enter}");
    expect(body).not.toHaveTextContent("EINDE");
    expect(toggle).toHaveAccessibleName("Toon alles");
    toggle.blur();
    await user.tab(); // the timeline itself (it scrolls with the arrow keys)
    expect(screen.getByTestId("timeline")).toHaveFocus();
    await user.tab();
    expect(toggle).toHaveFocus();
    await user.keyboard(" ");
    expect(body.textContent).toBe(HUGE);
  });

  it("shortens a message of many lines, and every kind of message, own ones that failed too", () => {
    render(
      Timeline,
      props([
        message("1", lines(30)),
        message("2", HUGE, { isOwn: true, eventId: null, sendState: { state: "failed", code: "tooLarge", reason: "413", recoverable: false } }),
        message("3", "Kort bericht"),
      ]),
    );
    const [many, failed, short] = screen.getAllByTestId("timeline-message");
    expect(within(many!).getByTestId("message-body").textContent).toBe(`${lines(12)}…`);
    expect(within(many!).getByRole("button", { name: "Toon alles" })).toBeInTheDocument();
    expect(within(failed!).getByTestId("message-body")).not.toHaveTextContent("EINDE");
    expect(within(failed!).getByRole("button", { name: "Toon alles" })).toBeInTheDocument();
    expect(within(failed!).getByTestId("send-state")).toHaveTextContent(
      "Niet verstuurd: Het bericht is te groot voor de server. Maak het korter of verdeel het over meerdere berichten.",
    );
    expect(within(short!).getByTestId("message-body").textContent).toBe("Kort bericht");
    expect(within(short!).queryByTestId("message-body-toggle")).toBeNull();
  });

  it("Bewerken starts from the whole text, not the shortened one", async () => {
    const user = userEvent.setup();
    render(
      Timeline,
      props([message("2", HUGE, { isOwn: true, eventId: null, sendState: { state: "failed", code: "tooLarge", reason: "413", recoverable: false } })]),
    );
    await user.click(screen.getByTestId("unsent-edit"));
    expect((screen.getByTestId("unsent-edit-input") as HTMLTextAreaElement).value).toBe(HUGE);
  });

  it("has the words in English", () => {
    i18n.locale = "en";
    render(Timeline, props([message("1", HUGE)]));
    expect(screen.getByRole("button", { name: "Show all" })).toHaveAttribute("aria-expanded", "false");
  });
});
