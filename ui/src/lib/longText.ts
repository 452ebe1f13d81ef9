// Long message bodies are shortened in the timeline, with "Toon alles" to
// read the rest: a 70,000-character handover should not bury the
// conversation. The whole text stays in the message; only what is shown is cut.

export interface ClampLimits {
  /** At most this many lines are shown. */
  lines: number;
  /** At most this many characters are shown. */
  chars: number;
}

export const BODY_LIMITS: ClampLimits = { lines: 12, chars: 1_000 };

/**
 * The start of `text` to show collapsed, or null when the whole text is short
 * enough. A text only a little over a limit (up to 3 lines or a fifth more) is
 * shown whole: hiding a line or two behind a button helps nobody. The cut ends
 * at a word where one is near, without trailing space; the caller adds "…".
 */
export function clampText(text: string, limits: ClampLimits = BODY_LIMITS): string | null {
  const lines = text.split("\n");
  const tooManyLines = lines.length > limits.lines + 3;
  const tooLong = text.length > Math.round(limits.chars * 1.2);
  if (!tooManyLines && !tooLong) return null;

  let cut = tooManyLines ? lines.slice(0, limits.lines).join("\n") : text;
  if (cut.length > limits.chars) {
    cut = cut.slice(0, limits.chars);
    // Back to the last space if that loses little (a word is not split in two).
    const space = cut.search(/\s\S*$/);
    if (space > limits.chars * 0.8) cut = cut.slice(0, space);
  }
  return cut.trimEnd();
}
