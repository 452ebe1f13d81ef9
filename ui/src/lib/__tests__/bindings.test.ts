// Checks the contract the UI relies on from the generated file (tauri-specta's
// error mode "Result"): an error payload from Rust resolves as
// { status: "error" }, a JS Error is rethrown. Runs against the real bindings
// over @tauri-apps/api's IPC mock.
import { describe, expect, it } from "vitest";
import { mockIPC } from "@tauri-apps/api/mocks";
import { commands } from "$lib/ipc/bindings";

describe("generated bindings", () => {
  it("wraps a successful invoke in { status: 'ok' }", async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return null;
    });
    await expect(commands.logout()).resolves.toEqual({ status: "ok", data: null });
    expect(calls).toHaveLength(1);
  });

  it("invokes the e-mail invite commands by their Rust names and argument names", async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return cmd === "confirm_email" ? "els@example.org" : null;
    });
    await commands.inviteByEmail("!space", "els@example.org", "client", null);
    await commands.requestEmailValidation("els@example.org");
    await expect(commands.confirmEmail("123456")).resolves.toEqual({ status: "ok", data: "els@example.org" });
    await commands.relatedPersonLogin();
    expect(calls).toEqual([
      ["invite_by_email", { spaceId: "!space", address: "els@example.org", role: "client", relation: null }],
      ["request_email_validation", { address: "els@example.org" }],
      ["confirm_email", { code: "123456" }],
      ["related_person_login", {}],
    ]);
  });

  it("turns a rejected invoke with an AppError into { status: 'error' }", async () => {
    mockIPC(() => {
      throw { code: "wrong_credentials", detail: "M_FORBIDDEN" };
    });
    await expect(
      commands.login({ homeserver: "https://hs.example", username: "an", password: "x" }),
    ).resolves.toEqual({ status: "error", error: { code: "wrong_credentials", detail: "M_FORBIDDEN" } });
  });
});
