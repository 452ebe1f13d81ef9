import { beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import { call, ipc, toAppError } from "$lib/ipc";
import { backend, err, ok } from "../../test/fakeBackend";

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
