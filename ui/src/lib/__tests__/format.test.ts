import { describe, expect, it } from "vitest";
import {
  amsterdamDay,
  calendarDay,
  formatDay,
  formatListTime,
  formatLongDate,
  formatShortDay,
  formatSize,
  formatTime,
  formatUpdated,
} from "$lib/i18n/format";

const labels = { today: "Vandaag", yesterday: "Gisteren" };

describe("Dutch dates in the Europe/Amsterdam zone", () => {
  it("shows times in Amsterdam time, winter and summer", () => {
    expect(formatTime(Date.UTC(2025, 0, 15, 13, 5))).toBe("14:05"); // CET, UTC+1
    expect(formatTime(Date.UTC(2025, 6, 15, 13, 5))).toBe("15:05"); // CEST, UTC+2
    expect(formatTime(Date.UTC(2025, 0, 15, 23, 30))).toBe("00:30");
  });

  it("decides the calendar day in Amsterdam, not UTC", () => {
    // 23:30 UTC on 15 January is already 16 January in Amsterdam.
    expect(amsterdamDay(Date.UTC(2025, 0, 15, 23, 30))).toBe(amsterdamDay(Date.UTC(2025, 0, 16, 10, 0)));
  });

  it("writes long dates the Dutch way", () => {
    const now = Date.UTC(2025, 5, 1, 10);
    expect(formatLongDate(Date.UTC(2025, 2, 3, 10), now)).toBe("maandag 3 maart");
    expect(formatLongDate(Date.UTC(2024, 2, 4, 10), now)).toBe("maandag 4 maart 2024");
  });

  it("labels day dividers Vandaag / Gisteren / the date", () => {
    const now = Date.UTC(2025, 2, 5, 9, 0);
    expect(formatDay(Date.UTC(2025, 2, 5, 7, 0), now, labels)).toBe("Vandaag");
    expect(formatDay(Date.UTC(2025, 2, 4, 22, 0), now, labels)).toBe("Gisteren");
    expect(formatDay(Date.UTC(2025, 2, 3, 10, 0), now, labels)).toBe("maandag 3 maart");
  });

  it("formats the room list's last activity compactly", () => {
    const now = Date.UTC(2025, 2, 12, 9, 0); // Wednesday 12 March
    expect(formatListTime(Date.UTC(2025, 2, 12, 7, 15), now, "gisteren")).toBe("08:15");
    expect(formatListTime(Date.UTC(2025, 2, 11, 7, 15), now, "gisteren")).toBe("gisteren");
    expect(formatListTime(Date.UTC(2025, 2, 9, 7, 15), now, "gisteren")).toBe("zondag");
    expect(formatListTime(Date.UTC(2025, 1, 3, 7, 15), now, "gisteren")).toBe("3 feb");
    expect(formatListTime(Date.UTC(2024, 1, 3, 7, 15), now, "gisteren")).toBe("3-2-2024");
  });
});

describe("absence days", () => {
  const now = Date.UTC(2025, 10, 20, 10); // 20 November 2025

  it("takes a plain date as that day, and a date-time as its day in Amsterdam", () => {
    expect(calendarDay("2025-12-06")).toEqual({ year: 2025, month: 12, day: 6 });
    // 23:30 UTC on 6 December is 00:30 on the 7th in Amsterdam.
    expect(calendarDay("2025-12-06T23:30:00Z")).toEqual({ year: 2025, month: 12, day: 7 });
    expect(calendarDay("2025-12-06T23:59:59+01:00")).toEqual({ year: 2025, month: 12, day: 6 });
    expect(calendarDay("volgende week")).toBeNull();
  });

  it("writes a day short, with the year only outside the current one", () => {
    expect(formatShortDay("2025-12-06", now)).toBe("6 dec");
    expect(formatShortDay("2025-03-03T09:00:00+01:00", now)).toBe("3 mrt");
    expect(formatShortDay("2027-03-01", now)).toBe("1 mrt 2027");
    expect(formatShortDay("2025-12-06", now, "en-GB")).toBe("6 Dec");
    expect(formatShortDay("onbekend", now)).toBe("onbekend");
  });

  it("says when data was last read: today, yesterday or the date, with the time", () => {
    const labels = { today: "vandaag", yesterday: "gisteren" };
    expect(formatUpdated(Date.UTC(2025, 10, 20, 8, 5), now, labels)).toBe("vandaag 09:05");
    expect(formatUpdated(Date.UTC(2025, 10, 19, 8, 5), now, labels)).toBe("gisteren 09:05");
    expect(formatUpdated(Date.UTC(2025, 10, 3, 13, 5), now, labels)).toBe("3 nov 14:05");
  });
});

describe("file sizes", () => {
  it("reads like a file manager's, with a decimal comma in Dutch", () => {
    expect(formatSize(0)).toBe("0 B");
    expect(formatSize(999)).toBe("999 B");
    expect(formatSize(1000)).toBe("1 kB");
    expect(formatSize(1_450)).toBe("1,5 kB");
    expect(formatSize(48_213)).toBe("48 kB");
    expect(formatSize(999_999)).toBe("1 MB");
    expect(formatSize(1_400_000)).toBe("1,4 MB");
    expect(formatSize(23_800_000)).toBe("24 MB");
    expect(formatSize(2_100_000_000)).toBe("2,1 GB");
    expect(formatSize(1_400_000, "en-GB")).toBe("1.4 MB");
  });
});
