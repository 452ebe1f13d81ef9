import { beforeEach, describe, expect, it, vi } from "vitest";
import { mockConvertFileSrc } from "@tauri-apps/api/mocks";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import { attachmentUrl, call, ipc, toAppError } from "$lib/ipc";
import { aRelatedSession, anOnboarded, backend, defaultNotificationSettings, err, ok, progress, sendProblem } from "../../test/fakeBackend";

beforeEach(() => backend.reset());

describe("call", () => {
  it("passes results through", async () => {
    await expect(call(async () => ok(3))).resolves.toEqual(ok(3));
    await expect(call(async () => err("storage", "disk full"))).resolves.toEqual(err("storage", "disk full"));
  });

  it("turns a thrown JS error into an internal AppError instead of throwing", async () => {
    const res = await call(async () => {
      throw new Error("bridge gone");
    });
    expect(res).toEqual({ status: "error", error: { code: "internal", detail: "bridge gone" } });
  });

  it("toAppError keeps a well-formed error and wraps anything else", () => {
    expect(toAppError({ code: "session_lost", detail: "token revoked" })).toEqual({
      code: "session_lost",
      detail: "token revoked",
    });
    expect(toAppError("weird")).toEqual({ code: "internal", detail: "weird" });
  });
});

describe("streams", () => {
  it("delivers channel messages until closed, then unsubscribes exactly once", async () => {
    const received: unknown[] = [];
    const res = await ipc.watchSync((s) => received.push(s));
    expect(res.status).toBe("ok");
    if (res.status !== "ok") return;

    backend.pushSync("running");
    await res.data.close();
    await res.data.close();
    backend.pushSync("offline");

    expect(received).toEqual(["running"]);
    expect(backend.commands.unsubscribe).toHaveBeenCalledTimes(1);
    expect(backend.commands.unsubscribe).toHaveBeenCalledWith(res.data.id);
  });

  it("hands a start failure back and keeps the channel silent", async () => {
    backend.commands.watchRooms.mockImplementation(async (ch) => {
      backend.channels.rooms.push(ch);
      return err("not_logged_in");
    });
    const received: unknown[] = [];
    const res = await ipc.watchRooms((d) => received.push(d));
    expect(res).toEqual(err("not_logged_in"));
    backend.pushRooms([{ op: "clear" }]);
    expect(received).toEqual([]);
  });
});

describe("attachments", () => {
  it("passes a message with files and a reply on to Rust, and a save's path back", async () => {
    const files = [{ filename: "a.txt", mime: "text/plain", data: [104, 105] }];
    await expect(ipc.sendMessage("!a", "zie bijlage", files, "$vraag", true)).resolves.toEqual(ok(null));
    expect(backend.commands.sendMessage).toHaveBeenCalledWith("!a", "zie bijlage", files, "$vraag", true);
    await expect(ipc.saveAttachment("!a", "$e", 2)).resolves.toEqual(ok("/home/an/Downloads/e-2"));
    expect(backend.commands.saveAttachment).toHaveBeenCalledWith("!a", "$e", 2);
  });

  it("addresses an attachment on the kring-media scheme, the ids encoded", () => {
    const path = encodeURIComponent(`${encodeURIComponent("!r:zorg.example")}/${encodeURIComponent("$ev/1")}/3`);
    // No Tauri shell in a unit test: the Linux/macOS form.
    expect(attachmentUrl("!r:zorg.example", "$ev/1", 3)).toBe(`kring-media://localhost/${path}`);
    // Inside the shell, convertFileSrc decides (Windows serves custom schemes over http).
    mockConvertFileSrc("windows");
    expect(attachmentUrl("!r:zorg.example", "$ev/1", 3)).toBe(`http://kring-media.localhost/${path}`);
    mockConvertFileSrc("linux");
    expect(attachmentUrl("!r:zorg.example", "$ev/1", 3)).toBe(`kring-media://localhost/${path}`);
  });
});

describe("first login", () => {
  it("hands Rust a channel for the progress and resolves with what it onboarded", async () => {
    const heard: unknown[] = [];
    const pending = ipc.firstLogin((p) => heard.push(p));
    await vi.waitFor(() => expect(backend.channels.onboarding).toHaveLength(1));
    expect(backend.commands.firstLogin).toHaveBeenCalledWith(backend.channels.onboarding[0]);
    backend.pushProgress(progress("organisation_login", "running"), progress("organisation_login", "done", "An"));
    backend.finishFirstLogin(ok(anOnboarded));
    await expect(pending).resolves.toEqual(ok(anOnboarded));
    expect(heard).toEqual([progress("organisation_login", "running"), progress("organisation_login", "done", "An")]);
  });

  it("passes the login options and a cancel through", async () => {
    backend.commands.loginOptions.mockResolvedValueOnce(ok({ organisationLogin: true, idpName: "Aurora", relatedPersonLogin: null }));
    await expect(ipc.loginOptions()).resolves.toEqual(ok({ organisationLogin: true, idpName: "Aurora", relatedPersonLogin: null }));
    await expect(ipc.cancelFirstLogin()).resolves.toEqual(ok(null));
    expect(backend.commands.cancelFirstLogin).toHaveBeenCalledTimes(1);
  });

  it("passes invites by e-mail, the care platform login and the address binding through", async () => {
    await expect(ipc.inviteByEmail("!space", "els@example.org", "related_person", "Dochter")).resolves.toEqual(ok(null));
    expect(backend.commands.inviteByEmail).toHaveBeenCalledWith("!space", "els@example.org", "related_person", "Dochter");
    await expect(ipc.relatedPersonLogin()).resolves.toEqual(ok(aRelatedSession));
    await expect(ipc.requestEmailValidation("els@example.org")).resolves.toEqual(ok(null));
    await expect(ipc.confirmEmail("123456")).resolves.toEqual(ok("els@example.org"));
    expect(backend.commands.confirmEmail).toHaveBeenCalledWith("123456");
  });
});

describe("issue 6: the send queue and notifications", () => {
  it("passes unsent-message actions on by room and timeline item id", async () => {
    await expect(ipc.retrySend("!a", "local-1")).resolves.toEqual(ok(null));
    expect(backend.commands.retrySend).toHaveBeenCalledWith("!a", "local-1");
    await ipc.editUnsent("!a", "local-1", "nieuwe tekst");
    expect(backend.commands.editUnsent).toHaveBeenCalledWith("!a", "local-1", "nieuwe tekst");
    await ipc.discardUnsent("!a", "local-1");
    expect(backend.commands.discardUnsent).toHaveBeenCalledWith("!a", "local-1");
    await ipc.markRead("!a");
    expect(backend.commands.markRead).toHaveBeenCalledWith("!a");
  });

  it("reads and writes the settings and a conversation's mode", async () => {
    await expect(ipc.notificationSettings()).resolves.toEqual(ok(defaultNotificationSettings));
    const changed = { showMessageText: true, repeatAfterSeconds: 300, repeatCount: 1 };
    await ipc.setNotificationSettings(changed);
    expect(backend.commands.setNotificationSettings).toHaveBeenCalledWith(changed);
    await expect(ipc.conversationNotificationMode("!a")).resolves.toEqual(ok("all"));
    await ipc.setConversationNotificationMode("!a", "mentionsAndUrgent");
    expect(backend.commands.setConversationNotificationMode).toHaveBeenCalledWith("!a", "mentionsAndUrgent");
  });

  it("streams send problems and clicked notifications until closed", async () => {
    const problems: unknown[] = [];
    const activated: string[] = [];
    const p = await ipc.watchSendProblems((x) => problems.push(x));
    const a = await ipc.watchNotificationActivations((roomId) => activated.push(roomId));
    if (p.status !== "ok" || a.status !== "ok") throw new Error("streams did not start");
    backend.pushSendProblem(sendProblem("!a", "Familie Jansen"));
    backend.pushActivation("!b");
    await p.data.close();
    await a.data.close();
    backend.pushSendProblem(sendProblem("!c", "Te laat"));
    backend.pushActivation("!c");
    expect(problems).toEqual([sendProblem("!a", "Familie Jansen")]);
    expect(activated).toEqual(["!b"]);
    expect(backend.commands.unsubscribe).toHaveBeenCalledWith(p.data.id);
    expect(backend.commands.unsubscribe).toHaveBeenCalledWith(a.data.id);
  });
});
