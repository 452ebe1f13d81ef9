// Dates and times for people: Dutch formats, always in the Europe/Amsterdam zone
// (a ward in Zwolle reads Zwolle time, whatever the device's zone says).
export const TIME_ZONE = "Europe/Amsterdam";

const dayKeyFormat = new Intl.DateTimeFormat("en-CA", {
  timeZone: TIME_ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
});

/** The calendar day of `ms` in Amsterdam, as a number of days since 1970-01-01. */
export function amsterdamDay(ms: number): number {
  const parts = dayKeyFormat.formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return Math.round(Date.UTC(get("year"), get("month") - 1, get("day")) / 86_400_000);
}

function amsterdamYear(ms: number): number {
  return Number(new Intl.DateTimeFormat("en-CA", { timeZone: TIME_ZONE, year: "numeric" }).format(new Date(ms)));
}

const cache = new Map<string, Intl.DateTimeFormat>();
function fmt(tag: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = tag + JSON.stringify(options);
  let f = cache.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(tag, { timeZone: TIME_ZONE, ...options });
    cache.set(key, f);
  }
  return f;
}

/** "14:05" */
export function formatTime(ms: number, tag = "nl-NL"): string {
  return fmt(tag, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(ms));
}

/** "maandag 3 maart 2025" (the year only when it is not the current one). */
export function formatLongDate(ms: number, now: number, tag = "nl-NL"): string {
  const sameYear = amsterdamYear(ms) === amsterdamYear(now);
  return fmt(tag, {
    weekday: "long",
    day: "numeric",
    month: "long",
    ...(sameYear ? {} : { year: "numeric" }),
  }).format(new Date(ms));
}

/** For a day divider: "Vandaag", "Gisteren" or the long date. */
export function formatDay(
  ms: number,
  now: number,
  labels: { today: string; yesterday: string },
  tag = "nl-NL",
): string {
  const diff = amsterdamDay(now) - amsterdamDay(ms);
  if (diff === 0) return labels.today;
  if (diff === 1) return labels.yesterday;
  return formatLongDate(ms, now, tag);
}

/**
 * Compact "last activity" for a list row: the time today, "gisteren", the
 * weekday within the last week, else the date ("3 mrt", or "3-3-2024" in
 * another year).
 */
export function formatListTime(ms: number, now: number, yesterday: string, tag = "nl-NL"): string {
  const diff = amsterdamDay(now) - amsterdamDay(ms);
  if (diff <= 0) return formatTime(ms, tag);
  if (diff === 1) return yesterday;
  if (diff < 7) return fmt(tag, { weekday: "long" }).format(new Date(ms));
  if (amsterdamYear(ms) === amsterdamYear(now)) return fmt(tag, { day: "numeric", month: "short" }).format(new Date(ms));
  return fmt(tag, { day: "numeric", month: "numeric", year: "numeric" }).format(new Date(ms));
}

/** Full timestamp for a tooltip / screen reader: "maandag 3 maart 2025 om 14:05". */
export function formatFull(ms: number, tag = "nl-NL"): string {
  return fmt(tag, { dateStyle: "full", timeStyle: "short" }).format(new Date(ms));
}

/** Machine-readable value for <time datetime>. */
export function isoString(ms: number): string {
  return new Date(ms).toISOString();
}

const SIZE_UNITS = ["kilobyte", "megabyte", "gigabyte"] as const;

/**
 * A file size as people read it: "512 B", "12 kB", "1,4 MB". Decimal units,
 * as the file managers on Linux and macOS show them.
 */
export function formatSize(bytes: number, tag = "nl-NL"): string {
  if (bytes < 1000) return `${new Intl.NumberFormat(tag).format(bytes)} B`;
  let index = 0;
  let value = bytes / 1000;
  // Thresholds at what rounding shows, so 999 999 bytes reads "1 MB", not "1000 kB".
  while (value >= 999.5 && index < SIZE_UNITS.length - 1) {
    value /= 1000;
    index++;
  }
  const unit = SIZE_UNITS[index]!;
  // One decimal only where it says something ("1,4 MB", not "123,4 kB").
  const digits = value < 9.95 ? 1 : 0;
  return new Intl.NumberFormat(tag, {
    style: "unit",
    unit,
    unitDisplay: "short",
    maximumFractionDigits: digits,
  }).format(value);
}

export interface CalendarDay {
  year: number;
  month: number;
  day: number;
}

const PLAIN_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * The calendar day of a plain date ("2025-12-06", no zone: that day) or of an
 * RFC 3339 date-time (the day it is in Amsterdam then). Null when unreadable.
 */
export function calendarDay(value: string): CalendarDay | null {
  const plain = PLAIN_DATE.exec(value.trim());
  if (plain) return { year: Number(plain[1]), month: Number(plain[2]), day: Number(plain[3]) };
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return null;
  const parts = dayKeyFormat.formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return { year: get("year"), month: get("month"), day: get("day") };
}

/**
 * A day as a period shows it: "6 dec", with the year when it is not the
 * current one ("1 mrt 2027"). The text as given when it is no date.
 */
export function formatShortDay(value: string, now: number, tag = "nl-NL"): string {
  const day = calendarDay(value);
  if (!day) return value;
  // Noon UTC is the same calendar day in Amsterdam, summer and winter.
  const noon = new Date(Date.UTC(day.year, day.month - 1, day.day, 12));
  const sameYear = day.year === amsterdamYear(now);
  return fmt(tag, { day: "numeric", month: "short", ...(sameYear ? {} : { year: "numeric" }) }).format(noon);
}

/** When data was last read: "vandaag 14:05", "gisteren 14:05", else "5 dec 14:05". */
export function formatUpdated(
  ms: number,
  now: number,
  labels: { today: string; yesterday: string },
  tag = "nl-NL",
): string {
  const diff = amsterdamDay(now) - amsterdamDay(ms);
  const time = formatTime(ms, tag);
  if (diff <= 0) return `${labels.today} ${time}`;
  if (diff === 1) return `${labels.yesterday} ${time}`;
  return `${formatShortDay(new Date(ms).toISOString(), now, tag)} ${time}`;
}
