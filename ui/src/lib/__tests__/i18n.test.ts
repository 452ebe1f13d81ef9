import { afterEach, describe, expect, it } from "vitest";
import nl from "$lib/i18n/nl.json";
import en from "$lib/i18n/en.json";
import { i18n, t } from "$lib/i18n/index.svelte";
import { errorText } from "$lib/errors";
import { ERROR_CODES } from "$lib/ipc";

function keys(node: unknown, prefix = ""): string[] {
  if (typeof node === "string") return [prefix];
  return Object.entries(node as Record<string, unknown>).flatMap(([k, v]) =>
    keys(v, prefix ? `${prefix}.${k}` : k),
  );
}

afterEach(() => {
  i18n.locale = "nl";
});

describe("translations", () => {
  it("nl.json and en.json have exactly the same keys", () => {
    expect(keys(en).sort()).toEqual(keys(nl).sort());
  });

  it("no string is empty", () => {
    for (const dict of [nl, en]) {
      for (const key of keys(dict)) {
        const value = key.split(".").reduce<unknown>((n, k) => (n as Record<string, unknown>)[k], dict);
        expect(value, key).toMatch(/\S/);
      }
    }
  });

  it("every error code from Rust has its own text in both languages", () => {
    for (const code of ERROR_CODES) {
      expect((nl.errors as Record<string, string>)[code], `nl ${code}`).toBeTruthy();
      expect((en.errors as Record<string, string>)[code], `en ${code}`).toBeTruthy();
    }
  });
});

describe("t and errorText", () => {
  it("is Dutch by default", () => {
    expect(i18n.locale).toBe("nl");
    expect(t("login.submit")).toBe("Inloggen");
    expect(errorText({ code: "wrong_credentials", detail: "M_FORBIDDEN" })).toBe(
      "Gebruikersnaam of wachtwoord klopt niet.",
    );
  });

  it("fills placeholders", () => {
    expect(t("rooms.unreadMany", { count: 4 })).toBe("4 ongelezen berichten");
    expect(t("sendState.failed", { reason: "geen verbinding" })).toBe("Niet verstuurd: geen verbinding");
  });

  it("switches to English, remembers the choice and sets the document language", () => {
    i18n.locale = "en";
    expect(t("login.submit")).toBe("Sign in");
    expect(localStorage.getItem("kring.locale")).toBe("en");
    expect(document.documentElement.lang).toBe("en");
    expect(i18n.tag).toBe("en-GB");
  });

  it("gives a generic text for an error code it does not know", () => {
    const text = errorText({ code: "brand_new_code" as never, detail: "" });
    expect(text).toBe(nl.errors.unknown);
  });
});
