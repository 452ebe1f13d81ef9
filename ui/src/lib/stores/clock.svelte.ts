// "Now", refreshed every minute, so "today"/"yesterday" labels roll over at midnight.
const state = $state({ now: Date.now() });
let timer: ReturnType<typeof setInterval> | null = null;

export const clock = {
  get now(): number {
    return state.now;
  },
  start() {
    if (timer) return;
    state.now = Date.now();
    timer = setInterval(() => (state.now = Date.now()), 60_000);
  },
  stop() {
    if (timer) clearInterval(timer);
    timer = null;
  },
};
