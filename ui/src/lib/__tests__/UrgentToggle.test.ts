// The composer's "Urgent" toggle: its pressed state in attributes and class,
// and readable text (4.5:1 or more) in every state it can be in: off or
// pressed, each hovered, held down and focused. The review found the pressed
// toggle white on pale red (1.1:1) while hovered, right after clicking it.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import UrgentToggle from "$lib/components/UrgentToggle.svelte";
import toggleSource from "$lib/components/UrgentToggle.svelte?raw";

describe("UrgentToggle: state", () => {
  it("says pressed or not in aria-pressed, the class and the icon, also while hovered and focused", async () => {
    const user = userEvent.setup();
    render(UrgentToggle, { urgent: false });
    const toggle = screen.getByRole("button", { name: "Urgent" });
    expect(toggle).toHaveAttribute("aria-pressed", "false");
    expect(toggle).not.toHaveClass("on");
    expect(toggle.querySelector("svg")).toHaveAttribute("data-icon", "urgent");

    await user.click(toggle); // the pointer stays on it: the state the review saw
    await user.hover(toggle);
    expect(toggle).toHaveAttribute("aria-pressed", "true");
    expect(toggle).toHaveClass("on");
    expect(toggle).toHaveFocus();
    expect(toggle.querySelector("svg")).toHaveAttribute("data-icon", "check");
    expect(toggle.querySelector("svg")).toHaveAttribute("aria-hidden", "true");
    expect(toggle).toHaveTextContent("Urgent");

    await user.keyboard("{Enter}");
    expect(toggle).toHaveAttribute("aria-pressed", "false");
    expect(toggle).not.toHaveClass("on");
  });
});

// A small cascade over the component's own rules (jsdom does not weigh
// specificity, nor match :hover): which colours apply in a given state.
type Pseudo = "hover" | "active" | "focus-visible";

const rootVars = Object.fromEntries(
  [...readFileSync(join(import.meta.dirname, "../../app.css"), "utf8").matchAll(/(--[\w-]+):\s*([^;]+);/g)].map((m) => [
    m[1]!,
    m[2]!.trim(),
  ]),
);

function resolve(value: string): string {
  return value.replace(/var\((--[\w-]+)\)/g, (_, name: string) => resolve(rootVars[name] ?? `missing ${name}`)).trim();
}

const rules = [...toggleSource.split("<style>")[1]!.replace(/\/\*[\s\S]*?\*\//g, "").matchAll(/([^{}]+)\{([^}]*)\}/g)].map((m) => ({
  selectors: m[1]!.split(",").map((s) => s.trim()),
  declarations: Object.fromEntries(
    m[2]!
      .split(";")
      .map((d) => d.split(":").map((p) => p.trim()))
      .filter((d) => d.length === 2 && d[0])
      .map(([k, v]) => [k!, v!]),
  ),
}));

function specificity(selector: string): number {
  const plain = selector.replace(/:not\(/g, "(");
  const classes = (plain.match(/\.[\w-]+|\[[^\]]+\]|:[\w-]+/g) ?? []).length;
  return classes;
}

function styleIn(on: boolean, pseudo: Pseudo[]): { color: string; background: string } {
  const el = document.createElement("button");
  el.className = on ? "urgent-toggle on" : "urgent-toggle";
  for (const p of pseudo) el.setAttribute(`data-${p}`, "");
  const asAttributes = (s: string) => s.replace(/:(hover|active|focus-visible)/g, "[data-$1]");
  const applied: Record<string, { value: string; weight: number; order: number }> = {};
  rules.forEach((rule, order) => {
    for (const selector of rule.selectors) {
      if (!el.matches(asAttributes(selector))) continue;
      const weight = specificity(selector);
      for (const [prop, value] of Object.entries(rule.declarations)) {
        const key = prop === "background-color" ? "background" : prop;
        const current = applied[key];
        if (!current || weight > current.weight || (weight === current.weight && order >= current.order)) {
          applied[key] = { value, weight, order };
        }
      }
    }
  });
  return { color: resolve(applied.color!.value), background: resolve(applied.background!.value) };
}

function luminance(hex: string): number {
  const n = parseInt(hex.replace("#", ""), 16);
  const channels = [n >> 16, (n >> 8) & 255, n & 255].map((v) => {
    const c = v / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * channels[0]! + 0.7152 * channels[1]! + 0.0722 * channels[2]!;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

describe("UrgentToggle: contrast in every state", () => {
  const states: [boolean, Pseudo[]][] = [];
  for (const on of [false, true]) {
    for (const pseudo of [[], ["hover"], ["active"], ["focus-visible"], ["hover", "active"], ["hover", "focus-visible"]] as Pseudo[][]) {
      states.push([on, pseudo]);
    }
  }

  it.each(states)("pressed %s, %j: text at least 4.5:1 on its background", (on, pseudo) => {
    const { color, background } = styleIn(on, pseudo);
    expect(color).toMatch(/^#[0-9a-f]{6}$/i);
    expect(background).toMatch(/^#[0-9a-f]{6}$/i);
    expect(contrast(color, background)).toBeGreaterThanOrEqual(4.5);
  });

  it("pressed and hovered is darker than pressed, never the pale hover of the off state", () => {
    const pressed = styleIn(true, []);
    const hovered = styleIn(true, ["hover"]);
    expect(hovered.background).not.toBe(styleIn(false, ["hover"]).background);
    expect(luminance(hovered.background)).toBeLessThan(luminance(pressed.background));
    expect(hovered.color).toBe(pressed.color);
  });
});
