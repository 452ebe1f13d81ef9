// What every part of the mock backend shares: the session, one id counter, the
// open streams (Channels), the demo's clock and the way Rust reports errors.
import type { Channel } from "@tauri-apps/api/core";
import type { AppError, SessionInfo } from "$lib/ipc";

export type AnyChannel = Channel<unknown>;

export class Stream {
  private index = 0;
  constructor(private readonly channel: AnyChannel) {}
  send(message: unknown) {
    // Go through the real Channel message path (ordering by index).
    window.__TAURI_INTERNALS__.runCallback(this.channel.id, { index: this.index++, message });
  }
}

declare global {
  interface Window {
    __TAURI_INTERNALS__: {
      runCallback: (id: number, data: unknown) => void;
      convertFileSrc?: (path: string, protocol?: string) => string;
    };
  }
}

export const MIN = 60_000;
export const DAY = 24 * 60 * MIN;
export const now = Date.now();

export function fail(code: AppError["code"], detail: string): never {
  throw { code, detail } satisfies AppError;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A command's arguments, as the UI invokes it. */
export type Args = Record<string, unknown>;
/** Command handlers by command name; what a handler returns (or throws) is the answer. */
export type Commands = Record<string, (args: Args) => unknown>;

/** The state all parts of the mock backend share. */
export interface Mock {
  session: SessionInfo | null;
  /** Signed in at the care platform: a related person, in no directory and no team yet. */
  carePlatform: boolean;
  /** The next number of the one counter behind every made-up id. */
  nextId(): number;
  /** Registers a stream of `kind` (for one room or care team, if given) and answers its id. */
  open(kind: string, channel: AnyChannel, roomId?: string): string;
  /** Sends to every open stream of `kind` for that room or care team. */
  push(kind: string, message: unknown, roomId?: string): void;
  unsubscribe(id: string): void;
  /** Forgets every stream (logout). */
  closeAll(): void;
  requireSession(): void;
}

export function createMock(): Mock {
  let nextId = 1;
  const streams = new Map<string, { roomId?: string; kind: string; stream: Stream }>();
  const mock: Mock = {
    session: null,
    carePlatform: false,
    nextId: () => nextId++,
    open(kind, channel, roomId) {
      const id = `${kind}-${nextId++}`;
      streams.set(id, { kind, roomId, stream: new Stream(channel) });
      return id;
    },
    push(kind, message, roomId) {
      for (const s of streams.values()) if (s.kind === kind && s.roomId === roomId) s.stream.send(message);
    },
    unsubscribe(id) {
      streams.delete(id);
    },
    closeAll() {
      streams.clear();
    },
    requireSession() {
      if (!mock.session) fail("not_logged_in", "no session");
    },
  };
  return mock;
}
