import { describe, expect, it, vi } from "vitest";
import type { AppError, ListDiff, Result, Subscription } from "$lib/ipc";
import { DiffListStream, LatestStream, type StartStream } from "$lib/stores/stream.svelte";

/** A fake Rust stream: `start` records each subscription so a test can push into it or finish it later. */
function fakeStreams<M>() {
  const opened: { push: (m: M) => void; close: () => Promise<void> }[] = [];
  const start = vi.fn<StartStream<M>>(async (onMessage) => {
    const close = vi.fn(async () => {});
    opened.push({ push: onMessage, close });
    return { status: "ok", data: { id: `s${opened.length}`, close } };
  });
  return { opened, start };
}

const failure: AppError = { code: "session_lost", detail: "" };
const failed: Result<Subscription, AppError> = { status: "error", error: failure };

describe("LatestStream", () => {
  it("delivers the live stream's messages and closes the previous one on reopen", async () => {
    const { opened, start } = fakeStreams<string>();
    const stream = new LatestStream<string>();
    const got: string[] = [];
    expect(await stream.open(start, (m) => got.push(m))).toBe(true);
    opened[0]!.push("a");
    await stream.open(start, (m) => got.push(m.toUpperCase()));
    expect(opened[0]!.close).toHaveBeenCalledOnce();
    opened[0]!.push("late");
    opened[1]!.push("b");
    expect(got).toEqual(["a", "B"]);
  });

  it("closes a subscription that completes after it was superseded", async () => {
    const stream = new LatestStream<string>();
    const slowClose = vi.fn(async () => {});
    let finish!: () => void;
    const slow: StartStream<string> = () =>
      new Promise((resolve) => (finish = () => resolve({ status: "ok", data: { id: "slow", close: slowClose } })));
    const opening = stream.open(slow, () => {});
    await stream.open(fakeStreams<string>().start, () => {});
    finish();
    expect(await opening).toBe(false);
    expect(slowClose).toHaveBeenCalledOnce();
  });

  it("reports a failed start, unless it was superseded", async () => {
    const stream = new LatestStream<string>();
    const onError = vi.fn();
    expect(await stream.open(async () => failed, () => {}, onError)).toBe(false);
    expect(onError).toHaveBeenCalledWith(failure);

    onError.mockClear();
    let fail!: () => void;
    const opening = stream.open(() => new Promise((resolve) => (fail = () => resolve(failed))), () => {}, onError);
    void stream.close();
    fail();
    await opening;
    expect(onError).not.toHaveBeenCalled();
  });

  it("close unsubscribes, drops later messages and moves the generation on", async () => {
    const { opened, start } = fakeStreams<string>();
    const stream = new LatestStream<string>();
    const got: string[] = [];
    await stream.open(start, (m) => got.push(m));
    const before = stream.generation;
    await stream.close();
    expect(stream.generation).not.toBe(before);
    expect(opened[0]!.close).toHaveBeenCalledOnce();
    opened[0]!.push("late");
    expect(got).toEqual([]);
  });
});

/** The smallest store on top of DiffListStream, as a future store would write it. */
class Letters extends DiffListStream<string> {
  start(start: StartStream<ListDiff<string>[]>, onError?: (e: AppError) => void) {
    return this.subscribe(start, onError);
  }
  stop() {
    return this.unsubscribe();
  }
}

describe("DiffListStream", () => {
  it("is not loaded until the reset, then applies each batch", async () => {
    const { opened, start } = fakeStreams<ListDiff<string>[]>();
    const list = new Letters();
    await list.start(start);
    expect(list.loaded).toBe(false);
    opened[0]!.push([{ op: "reset", values: ["a", "b"] }]);
    opened[0]!.push([{ op: "pushBack", value: "c" }, { op: "remove", index: 0 }]);
    expect(list.loaded).toBe(true);
    expect(list.items).toEqual(["b", "c"]);
  });

  it("records a failed start and clears it once subscribing works", async () => {
    const list = new Letters();
    const onError = vi.fn();
    await list.start(async () => failed, onError);
    expect(list.error).toEqual(failure);
    expect(onError).toHaveBeenCalledWith(failure);
    await list.start(fakeStreams<ListDiff<string>[]>().start);
    expect(list.error).toBeNull();
  });

  it("resubscribes when a diff does not fit, keeping the list until the new reset", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { opened, start } = fakeStreams<ListDiff<string>[]>();
    const list = new Letters();
    await list.start(start);
    opened[0]!.push([{ op: "reset", values: ["a"] }]);
    opened[0]!.push([{ op: "remove", index: 5 }]);
    await vi.waitFor(() => expect(start).toHaveBeenCalledTimes(2));
    expect(opened[0]!.close).toHaveBeenCalledOnce();
    expect(list.items).toEqual(["a"]);
    opened[1]!.push([{ op: "reset", values: ["x"] }]);
    expect(list.items).toEqual(["x"]);
  });

  it("stop unsubscribes and forgets the list", async () => {
    const { opened, start } = fakeStreams<ListDiff<string>[]>();
    const list = new Letters();
    await list.start(start);
    opened[0]!.push([{ op: "reset", values: ["a"] }]);
    await list.stop();
    expect(opened[0]!.close).toHaveBeenCalledOnce();
    expect(list.items).toEqual([]);
    expect(list.loaded).toBe(false);
    opened[0]!.push([{ op: "reset", values: ["late"] }]);
    expect(list.items).toEqual([]);
  });
});
