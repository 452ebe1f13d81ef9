// A tiny lookup over the translation files. Dutch is the default; the choice is
// kept in localStorage. `t` reads reactive state, so templates re-render when
// the language changes.
import nl from "./nl.json";
import en from "./en.json";

export type Locale = "nl" | "en";
export const LOCALES: readonly Locale[] = ["nl", "en"];

type Dictionary = typeof nl;
type Leaves<T, P extends string = ""> = {
  [K in keyof T & string]: T[K] extends string ? `${P}${K}` : Leaves<T[K], `${P}${K}.`>;
}[keyof T & string];
/** Every key that exists in nl.json, checked at compile time. */
export type MessageKey = Leaves<Dictionary>;

export const dictionaries: Record<Locale, Dictionary> = { nl, en };

const STORAGE_KEY = "kring.locale";

function initialLocale(): Locale {
  try {
    const stored = globalThis.localStorage?.getItem(STORAGE_KEY);
    if (stored === "nl" || stored === "en") return stored;
  } catch {
    // storage unavailable: fall through to the default
  }
  return "nl";
}

const state = $state<{ locale: Locale }>({ locale: initialLocale() });

export const i18n = {
  get locale(): Locale {
    return state.locale;
  },
  set locale(value: Locale) {
    state.locale = value;
    try {
      globalThis.localStorage?.setItem(STORAGE_KEY, value);
    } catch {
      // not fatal: the choice just is not remembered
    }
    if (typeof document !== "undefined") document.documentElement.lang = value;
  },
  /** The BCP 47 tag used for Intl formatting. */
  get tag(): string {
    return state.locale === "nl" ? "nl-NL" : "en-GB";
  },
};

function lookup(dict: unknown, key: string): string | undefined {
  let node: unknown = dict;
  for (const part of key.split(".")) {
    if (node && typeof node === "object" && part in node) node = (node as Record<string, unknown>)[part];
    else return undefined;
  }
  return typeof node === "string" ? node : undefined;
}

/** Translate `key`, filling `{name}` placeholders from `params`. Falls back to Dutch, then to the key. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const text = lookup(dictionaries[state.locale], key) ?? lookup(dictionaries.nl, key) ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}

/** Look up a key that is only known at run time (e.g. an error code from Rust). */
export function tDynamic(key: string, fallback: MessageKey): string {
  return lookup(dictionaries[state.locale], key) ?? lookup(dictionaries.nl, key) ?? t(fallback);
}
