// The timeline follows the newest message while the reader is at the bottom,
// and stays where it is once they scrolled up. That holds when the timeline
// itself gets smaller or larger (the sync banner or a send-problem notice
// appears, the composer grows, the window is resized): without help the
// browser keeps the top in place, and the newest message slides out of view
// under the composer.

/** How far from the very bottom still counts as "at the bottom", in CSS pixels. */
export const NEAR_BOTTOM_PX = 48;

export interface ScrollMetrics {
  scrollHeight: number;
  scrollTop: number;
  clientHeight: number;
}

export function isNearBottom(m: ScrollMetrics, slack = NEAR_BOTTOM_PX): boolean {
  return m.scrollHeight - m.scrollTop - m.clientHeight < slack;
}

/**
 * Whether the reader is at the bottom, from their scrolling. A scroll event
 * that comes with a new height (the browser moving the view for the resize
 * itself, before the resize is handled) says nothing about the reader and is
 * ignored: the resize decides, from where the reader was before it.
 */
export class BottomPin {
  #stuck = true;
  #height: number | null = null;

  /** At the bottom: new messages and resizes keep the newest message in view. */
  get stuck(): boolean {
    return this.#stuck;
  }

  scrolled(m: ScrollMetrics): void {
    if (this.#height !== null && m.clientHeight !== this.#height) return;
    this.#stuck = isNearBottom(m);
  }

  /** The container got a new size: true when it should scroll to the bottom. */
  resized(m: ScrollMetrics): boolean {
    this.#height = m.clientHeight;
    return this.#stuck;
  }
}

/**
 * Scrolls `el` to its bottom whenever its own size changes and `pin` says the
 * reader was there. Returns the function that stops it. Without ResizeObserver
 * (old webviews, jsdom) it does nothing.
 */
export function pinOnResize(el: HTMLElement, pin: BottomPin): () => void {
  if (typeof ResizeObserver === "undefined") return () => {};
  const observer = new ResizeObserver(() => {
    if (pin.resized(el)) el.scrollTop = el.scrollHeight;
  });
  observer.observe(el);
  return () => observer.disconnect();
}
