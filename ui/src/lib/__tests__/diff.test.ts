import { describe, expect, it } from "vitest";
import { applyDiffs, DiffError } from "$lib/diff";
import type { ListDiff } from "$lib/ipc";

const base = ["a", "b", "c"] as const;

function run(diffs: ListDiff<string>[], start: readonly string[] = base) {
  return applyDiffs(start, diffs);
}

describe("applyDiffs: each operation", () => {
  it("reset replaces everything", () => {
    expect(run([{ op: "reset", values: ["x", "y"] }])).toEqual(["x", "y"]);
    expect(run([{ op: "reset", values: [] }])).toEqual([]);
  });

  it("append adds values at the end, in order", () => {
    expect(run([{ op: "append", values: ["d", "e"] }])).toEqual(["a", "b", "c", "d", "e"]);
    expect(run([{ op: "append", values: [] }])).toEqual(["a", "b", "c"]);
  });

  it("clear empties the list", () => {
    expect(run([{ op: "clear" }])).toEqual([]);
  });

  it("pushFront and pushBack add one value at either end", () => {
    expect(run([{ op: "pushFront", value: "z" }])).toEqual(["z", "a", "b", "c"]);
    expect(run([{ op: "pushBack", value: "z" }])).toEqual(["a", "b", "c", "z"]);
  });

  it("popFront and popBack remove one value at either end", () => {
    expect(run([{ op: "popFront" }])).toEqual(["b", "c"]);
    expect(run([{ op: "popBack" }])).toEqual(["a", "b"]);
  });

  it("insert puts a value before the index, including at the very end", () => {
    expect(run([{ op: "insert", index: 0, value: "z" }])).toEqual(["z", "a", "b", "c"]);
    expect(run([{ op: "insert", index: 1, value: "z" }])).toEqual(["a", "z", "b", "c"]);
    expect(run([{ op: "insert", index: 3, value: "z" }])).toEqual(["a", "b", "c", "z"]);
  });

  it("set replaces the value at an index", () => {
    expect(run([{ op: "set", index: 0, value: "z" }])).toEqual(["z", "b", "c"]);
    expect(run([{ op: "set", index: 2, value: "z" }])).toEqual(["a", "b", "z"]);
  });

  it("remove deletes the value at an index", () => {
    expect(run([{ op: "remove", index: 0 }])).toEqual(["b", "c"]);
    expect(run([{ op: "remove", index: 1 }])).toEqual(["a", "c"]);
    expect(run([{ op: "remove", index: 2 }])).toEqual(["a", "b"]);
  });

  it("truncate keeps the first `length` values; a longer length changes nothing", () => {
    expect(run([{ op: "truncate", length: 1 }])).toEqual(["a"]);
    expect(run([{ op: "truncate", length: 0 }])).toEqual([]);
    expect(run([{ op: "truncate", length: 3 }])).toEqual(["a", "b", "c"]);
    expect(run([{ op: "truncate", length: 10 }])).toEqual(["a", "b", "c"]);
  });
});

describe("applyDiffs: batches and streams", () => {
  it("never mutates its input", () => {
    const input = ["a", "b", "c"];
    const frozen = Object.freeze(input.slice());
    const out = applyDiffs(frozen, [{ op: "pushBack", value: "d" }, { op: "remove", index: 0 }]);
    expect(frozen).toEqual(input);
    expect(out).not.toBe(frozen);
  });

  it("applies a batch in order", () => {
    const out = run([
      { op: "pushBack", value: "d" },
      { op: "remove", index: 0 },
      { op: "insert", index: 1, value: "x" },
      { op: "set", index: 0, value: "B" },
    ]);
    expect(out).toEqual(["B", "x", "c", "d"]);
  });

  it("an empty batch returns an equal copy", () => {
    const out = run([]);
    expect(out).toEqual(["a", "b", "c"]);
    expect(out).not.toBe(base);
  });

  it("reset then diffs, across several batches, gives the stream's final state", () => {
    // A stream starts with a reset; anything held before is replaced.
    let list: string[] = ["stale", "data"];
    const batches: ListDiff<string>[][] = [
      [{ op: "reset", values: ["m1", "m2"] }],
      [{ op: "pushBack", value: "m3" }],
      [
        { op: "pushFront", value: "m0" },
        { op: "set", index: 3, value: "m3-edited" },
      ],
      [{ op: "popFront" }, { op: "append", values: ["m4", "m5"] }],
      [{ op: "truncate", length: 4 }, { op: "popBack" }],
    ];
    const seen: string[][] = [];
    for (const batch of batches) {
      list = applyDiffs(list, batch);
      seen.push(list);
    }
    expect(seen).toEqual([
      ["m1", "m2"],
      ["m1", "m2", "m3"],
      ["m0", "m1", "m2", "m3-edited"],
      ["m1", "m2", "m3-edited", "m4", "m5"],
      ["m1", "m2", "m3-edited"],
    ]);
  });

  it("a reset in the middle of a batch discards what came before it", () => {
    expect(run([{ op: "pushBack", value: "d" }, { op: "reset", values: ["n"] }, { op: "pushBack", value: "o" }])).toEqual([
      "n",
      "o",
    ]);
  });

  it("clear followed by appends builds a new list", () => {
    expect(run([{ op: "clear" }, { op: "append", values: ["x"] }, { op: "pushFront", value: "w" }])).toEqual(["w", "x"]);
  });

  it("works on objects and keeps their identity", () => {
    const a = { id: "a" };
    const b = { id: "b" };
    const out = applyDiffs<{ id: string }>([a], [{ op: "pushBack", value: b }]);
    expect(out[0]).toBe(a);
    expect(out[1]).toBe(b);
  });
});

describe("applyDiffs: diffs that do not fit the list", () => {
  it.each<[string, ListDiff<string>]>([
    ["insert past the end", { op: "insert", index: 4, value: "z" }],
    ["insert at a negative index", { op: "insert", index: -1, value: "z" }],
    ["set at the length", { op: "set", index: 3, value: "z" }],
    ["set at a fractional index", { op: "set", index: 0.5, value: "z" }],
    ["remove at the length", { op: "remove", index: 3 }],
    ["truncate to a negative length", { op: "truncate", length: -1 }],
  ])("throws a DiffError for %s", (_name, diff) => {
    expect(() => run([diff])).toThrow(DiffError);
  });

  it("throws for popFront and popBack on an empty list", () => {
    expect(() => run([{ op: "popFront" }], [])).toThrow(DiffError);
    expect(() => run([{ op: "popBack" }], [])).toThrow(DiffError);
  });

  it("throws for an unknown op instead of ignoring it", () => {
    expect(() => run([{ op: "shuffle" } as unknown as ListDiff<string>])).toThrow(DiffError);
  });
});
