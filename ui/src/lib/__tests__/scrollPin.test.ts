// The timeline stays at the newest message when it gets smaller (the sync
// banner appears, the composer grows) if the reader was at the bottom, and
// leaves a reader who scrolled up where they are.
import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/svelte";
import { BottomPin, isNearBottom, NEAR_BOTTOM_PX, pinOnResize } from "$lib/scrollPin";
import Timeline from "$lib/components/Timeline.svelte";
import { message } from "../../test/fakeBackend";

const at = (scrollTop: number, clientHeight = 400, scrollHeight = 2_000) => ({ scrollHeight, scrollTop, clientHeight });

describe("isNearBottom", () => {
  it("counts the last few pixels as the bottom", () => {
    expect(isNearBottom(at(1_600))).toBe(true);
    expect(isNearBottom(at(1_600 - NEAR_BOTTOM_PX + 1))).toBe(true);
    expect(isNearBottom(at(1_600 - NEAR_BOTTOM_PX))).toBe(false);
    expect(isNearBottom(at(0))).toBe(false);
    // Everything fits: at the bottom.
    expect(isNearBottom(at(0, 400, 300))).toBe(true);
  });
});

describe("BottomPin", () => {
  it("starts at the bottom and sticks there through a resize", () => {
    const pin = new BottomPin();
    expect(pin.stuck).toBe(true);
    expect(pin.resized(at(1_600, 400))).toBe(true);
    // The banner took 60px: same scrollTop, the bottom is now out of view, and still it sticks.
    expect(pin.resized(at(1_600, 340))).toBe(true);
  });

  it("respects a reader who scrolled up", () => {
    const pin = new BottomPin();
    pin.resized(at(1_600, 400));
    pin.scrolled(at(900, 400));
    expect(pin.stuck).toBe(false);
    expect(pin.resized(at(900, 340))).toBe(false);
    // Back at the bottom: sticks again.
    pin.scrolled(at(1_660, 340));
    expect(pin.stuck).toBe(true);
    expect(pin.resized(at(1_660, 400))).toBe(true);
  });

  it("ignores a scroll event that comes with the new height before the resize is handled", () => {
    const pin = new BottomPin();
    pin.resized(at(1_600, 400));
    // The height shrank by 200px: the browser's own scroll event looks like "not at the bottom".
    pin.scrolled(at(1_600, 200));
    expect(pin.stuck).toBe(true);
    expect(pin.resized(at(1_600, 200))).toBe(true);
    // Afterwards the reader's scrolling counts again.
    pin.scrolled(at(500, 200));
    expect(pin.stuck).toBe(false);
  });
});

/** A ResizeObserver that the test triggers by hand. */
class FakeResizeObserver {
  static instances: FakeResizeObserver[] = [];
  targets: Element[] = [];
  disconnected = false;
  constructor(private callback: ResizeObserverCallback) {
    FakeResizeObserver.instances.push(this);
  }
  observe(target: Element) {
    this.targets.push(target);
  }
  unobserve() {}
  disconnect() {
    this.disconnected = true;
  }
  fire() {
    this.callback([], this as unknown as ResizeObserver);
  }
}

/** jsdom lays nothing out: give the element a size and a scroll position that can be set. */
function fakeBox(el: HTMLElement, box: { scrollHeight: number; clientHeight: number; scrollTop: number }) {
  Object.defineProperty(el, "scrollHeight", { configurable: true, get: () => box.scrollHeight });
  Object.defineProperty(el, "clientHeight", { configurable: true, get: () => box.clientHeight });
  Object.defineProperty(el, "scrollTop", {
    configurable: true,
    get: () => box.scrollTop,
    set: (v: number) => (box.scrollTop = Math.min(v, box.scrollHeight - box.clientHeight)),
  });
  return box;
}

afterEach(() => {
  vi.unstubAllGlobals();
  FakeResizeObserver.instances = [];
});

describe("pinOnResize", () => {
  it("scrolls to the bottom on a resize while stuck, not after the reader scrolled up; stops when asked", () => {
    vi.stubGlobal("ResizeObserver", FakeResizeObserver);
    const el = document.createElement("div");
    const box = fakeBox(el, { scrollHeight: 2_000, clientHeight: 400, scrollTop: 1_600 });
    const pin = new BottomPin();
    const stop = pinOnResize(el, pin);
    const observer = FakeResizeObserver.instances[0]!;
    expect(observer.targets).toEqual([el]);
    observer.fire();

    box.clientHeight = 340;
    observer.fire();
    expect(box.scrollTop).toBe(1_660);

    box.scrollTop = 300;
    pin.scrolled(el);
    box.clientHeight = 280;
    observer.fire();
    expect(box.scrollTop).toBe(300);

    stop();
    expect(observer.disconnected).toBe(true);
  });

  it("does nothing without ResizeObserver", () => {
    vi.stubGlobal("ResizeObserver", undefined);
    const stop = pinOnResize(document.createElement("div"), new BottomPin());
    expect(stop).toBeTypeOf("function");
    stop();
  });
});

describe("Timeline: pinned to the bottom when it gets smaller", () => {
  const props = {
    roomId: "!a:zorg.example",
    items: [message("1", "Eerste"), message("2", "Nieuwste bericht")],
    loaded: true,
    reachedStart: true,
    paginating: false,
    roomName: "Familie Jansen",
    onloadolder: () => {},
  };

  it("keeps the newest message in view when the sync banner takes space, unless the reader scrolled up", async () => {
    vi.stubGlobal("ResizeObserver", FakeResizeObserver);
    render(Timeline, props);
    const timeline = screen.getByTestId("timeline");
    const observer = FakeResizeObserver.instances.find((o) => o.targets.includes(timeline))!;
    expect(observer).toBeDefined();
    const box = fakeBox(timeline, { scrollHeight: 2_000, clientHeight: 400, scrollTop: 1_600 });
    observer.fire();

    // The banner appears: the timeline is 48px lower, the browser keeps scrollTop.
    box.clientHeight = 352;
    observer.fire();
    expect(box.scrollTop).toBe(1_648);

    // The reader scrolls up to read something older: a resize leaves them there.
    box.scrollTop = 200;
    timeline.dispatchEvent(new Event("scroll"));
    box.clientHeight = 300;
    observer.fire();
    expect(box.scrollTop).toBe(200);
  });
});
