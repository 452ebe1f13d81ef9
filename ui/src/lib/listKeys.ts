// Keyboard movement shared by the lists (rooms, clients, conversations):
// arrow keys move between items, Home/End jump to the ends, Tab leaves.
const KEYS = ["ArrowDown", "ArrowUp", "Home", "End"];

/** A keydown handler moving focus among the list's items matching `itemSelector`. */
export function listKeyNavigation(itemSelector: string): (event: KeyboardEvent) => void {
  return (event) => {
    if (!KEYS.includes(event.key)) return;
    const list = event.currentTarget as HTMLElement;
    const items = Array.from(list.querySelectorAll<HTMLElement>(itemSelector));
    if (items.length === 0) return;
    const current = items.indexOf(document.activeElement as HTMLElement);
    let next = current;
    if (event.key === "ArrowDown") next = Math.min(items.length - 1, current + 1);
    else if (event.key === "ArrowUp") next = Math.max(0, current - 1);
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = items.length - 1;
    event.preventDefault();
    items[next]?.focus();
  };
}

/**
 * The tab that a key moves to in a tab list (WAI-ARIA tabs pattern: arrows
 * wrap around, Home/End jump to the ends), or null for any other key.
 */
export function tabKeyTarget(key: string, index: number, count: number): number | null {
  if (key === "ArrowRight") return (index + 1) % count;
  if (key === "ArrowLeft") return (index - 1 + count) % count;
  if (key === "Home") return 0;
  if (key === "End") return count - 1;
  return null;
}
