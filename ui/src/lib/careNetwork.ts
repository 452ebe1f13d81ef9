// What the care-network panel and the recipient picker say about a person:
// their function or relation, their absences and whether they are away now.
// Pure functions over the IPC types, so components stay small and tests can
// check the wording without rendering.
import type { Absence, CareNetwork, NetworkParticipant, ParticipantKind } from "$lib/ipc";
import { i18n, t } from "$lib/i18n/index.svelte";
import { formatShortDay } from "$lib/i18n/format";

const KIND_ORDER: Record<ParticipantKind, number> = { client: 0, practitioner: 1, related_person: 2 };

/**
 * The client first, then the practitioners, then related persons; by name
 * within each. Someone away stays where they are: they are marked, not moved.
 */
export function sortParticipants(participants: NetworkParticipant[]): NetworkParticipant[] {
  return [...participants].sort(
    (a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.name.localeCompare(b.name, "nl", { sensitivity: "base" }),
  );
}

/**
 * The line under a name: "Huisarts · Huisartsenpraktijk De Brug" for a
 * practitioner, the relation ("mantelzorger", else "Naaste") for a related
 * person, "Cliënt" for the client. Empty when a practitioner's directory says nothing.
 */
export function describeParticipant(p: Pick<NetworkParticipant, "kind" | "function" | "organisation" | "relation">): string {
  if (p.kind === "client") return t("network.kindClient");
  if (p.kind === "related_person") return p.relation?.trim() || t("roles.related_person");
  return [p.function, p.organisation].filter((part): part is string => !!part?.trim()).join(" · ");
}

/** "6 dec – 12 dec", "vanaf 6 dec", "tot 12 dec", or "onbepaalde tijd". */
export function formatAbsence(absence: Absence, now: number): string {
  const day = (value: string) => formatShortDay(value, now, i18n.tag);
  const { start, end } = absence;
  if (start && end) return t("network.absenceRange", { start: day(start), end: day(end) });
  if (start) return t("network.absenceFrom", { start: day(start) });
  if (end) return t("network.absenceUntil", { end: day(end) });
  return t("network.absenceOpen");
}

/** The absence that makes someone away now: an open-ended one first, else the one ending last. */
export function currentAbsence(absences: Absence[]): Absence | null {
  const current = absences.filter((a) => a.current);
  if (current.length === 0) return null;
  const ends = (a: Absence) => Date.parse(a.end ?? "") || 0;
  return current.find((a) => !a.end) ?? [...current].sort((a, b) => ends(b) - ends(a))[0]!;
}

/** The badge text: "Afwezig tot 6 dec", or "Afwezig" when no end is known. */
export function awayLabel(absences: Absence[], now: number): string {
  const end = currentAbsence(absences)?.end;
  return end ? t("network.awayUntil", { date: formatShortDay(end, now, i18n.tag) }) : t("network.away");
}

/**
 * For the recipient picker: "Karim El Amrani is afwezig van 29 nov tot 6 dec
 * (Vakantie). Je bericht komt wel aan."
 */
export function absentWarning(name: string, absences: Absence[], now: number): string {
  const absence = currentAbsence(absences);
  const day = (value: string) => formatShortDay(value, now, i18n.tag);
  let period = "";
  if (absence?.start && absence.end) period = t("newConversation.periodRange", { start: day(absence.start), end: day(absence.end) });
  else if (absence?.end) period = t("newConversation.periodUntil", { end: day(absence.end) });
  else if (absence?.start) period = t("newConversation.periodFrom", { start: day(absence.start) });
  const note = absence?.description?.trim();
  const detail = [period, note ? `(${note})` : ""].filter(Boolean).join(" ");
  return detail ? t("newConversation.absentWarning", { name, detail }) : t("newConversation.absentWarningOpen", { name });
}

/** "https://mcsd.delinde.nl/fhir" → "mcsd.delinde.nl"; anything else as given. */
export function directoryHost(directory: string): string {
  try {
    return new URL(directory).host || directory;
  } catch {
    return directory;
  }
}

/**
 * When the data the banner warns about was last read: the oldest check of a
 * participant marked stale (else of anyone). Null when nobody was ever checked.
 */
export function lastChecked(network: CareNetwork): number | null {
  const times = (list: NetworkParticipant[]) =>
    list.map((p) => (p.checkedAt ? Date.parse(p.checkedAt) : NaN)).filter((ms) => !Number.isNaN(ms));
  const stale = times(network.participants.filter((p) => p.stale));
  const all = stale.length > 0 ? stale : times(network.participants);
  return all.length > 0 ? Math.min(...all) : null;
}
