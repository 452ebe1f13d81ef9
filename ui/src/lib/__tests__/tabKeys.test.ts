import { describe, expect, it } from "vitest";
import { tabKeyTarget } from "$lib/listKeys";

describe("tabKeyTarget", () => {
  it("wraps with the arrows, jumps with Home and End, ignores other keys", () => {
    expect(tabKeyTarget("ArrowRight", 0, 3)).toBe(1);
    expect(tabKeyTarget("ArrowRight", 2, 3)).toBe(0);
    expect(tabKeyTarget("ArrowLeft", 0, 3)).toBe(2);
    expect(tabKeyTarget("ArrowLeft", 1, 2)).toBe(0);
    expect(tabKeyTarget("ArrowRight", 1, 2)).toBe(0);
    expect(tabKeyTarget("Home", 2, 3)).toBe(0);
    expect(tabKeyTarget("End", 0, 3)).toBe(2);
    expect(tabKeyTarget("Enter", 0, 3)).toBeNull();
  });
});
