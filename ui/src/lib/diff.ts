import type { ListDiff } from "$lib/ipc";

/**
 * Apply a batch of list diffs (a serializable mirror of eyeball-im's VectorDiff)
 * to a list and return the new list. Pure: the input is never mutated.
 *
 * Streams from Rust start with a `reset`, then send diffs; batches are applied in
 * order. An index outside the list means the UI and Rust disagree, which is a bug
 * on one side: we throw rather than guess, and the caller resubscribes.
 */
export function applyDiffs<T>(list: readonly T[], diffs: readonly ListDiff<T>[]): T[] {
  const out = list.slice();
  for (const diff of diffs) {
    switch (diff.op) {
      case "reset":
        out.length = 0;
        out.push(...diff.values);
        break;
      case "append":
        out.push(...diff.values);
        break;
      case "clear":
        out.length = 0;
        break;
      case "pushFront":
        out.unshift(diff.value);
        break;
      case "pushBack":
        out.push(diff.value);
        break;
      case "popFront":
        if (out.length === 0) throw new DiffError(diff, 0);
        out.shift();
        break;
      case "popBack":
        if (out.length === 0) throw new DiffError(diff, 0);
        out.pop();
        break;
      case "insert":
        checkIndex(diff, diff.index, out.length, true);
        out.splice(diff.index, 0, diff.value);
        break;
      case "set":
        checkIndex(diff, diff.index, out.length, false);
        out[diff.index] = diff.value;
        break;
      case "remove":
        checkIndex(diff, diff.index, out.length, false);
        out.splice(diff.index, 1);
        break;
      case "truncate":
        if (!Number.isInteger(diff.length) || diff.length < 0) throw new DiffError(diff, out.length);
        if (diff.length < out.length) out.length = diff.length;
        break;
      default: {
        const unknown: never = diff;
        throw new DiffError(unknown, out.length);
      }
    }
  }
  return out;
}

function checkIndex(diff: ListDiff<unknown>, index: number, length: number, inclusiveEnd: boolean) {
  const max = inclusiveEnd ? length : length - 1;
  if (!Number.isInteger(index) || index < 0 || index > max) throw new DiffError(diff, length);
}

export class DiffError extends Error {
  constructor(diff: unknown, length: number) {
    const op = diff && typeof diff === "object" && "op" in diff ? String(diff.op) : "?";
    super(`list diff "${op}" does not fit a list of length ${length}`);
    this.name = "DiffError";
  }
}
