import { describe, expect, it } from "vitest";
import { sendPhase, uploadPercent, uploadText } from "$lib/sendState";
import { SendProblemsStore } from "$lib/stores/sendProblems.svelte";
import { attachment, sendProblem } from "../../test/fakeBackend";

describe("send state in words", () => {
  it("turns an upload into whole percent, never past 0..100, none while the sizes are unknown", () => {
    expect(uploadPercent({ index: 0, sentBytes: 0, totalBytes: 0 })).toBeNull();
    expect(uploadPercent({ index: 0, sentBytes: null, totalBytes: 10 })).toBeNull();
    expect(uploadPercent({ index: 0, sentBytes: 3, totalBytes: null })).toBeNull();
    expect(uploadText({ index: 0, sentBytes: null, totalBytes: null }, [attachment(0, "a.pdf")])).toBe("a.pdf");
    expect(uploadPercent({ index: 0, sentBytes: 1, totalBytes: 3 })).toBe(33);
    expect(uploadPercent({ index: 0, sentBytes: 5, totalBytes: 3 })).toBe(100);
    expect(uploadText({ index: 7, sentBytes: 1, totalBytes: 2 }, [])).toBe(": 50%");
    expect(uploadText({ index: 0, sentBytes: 1, totalBytes: 4 }, [attachment(0, "a.pdf"), attachment(1, "b.pdf")])).toBe(
      "Bijlage 1 van 2, a.pdf: 25%",
    );
  });

  it("tells sending, waiting (offline), retrying and failed apart", () => {
    expect(sendPhase({ state: "sent" }, true)).toBe("sent");
    expect(sendPhase({ state: "sending", upload: null }, false)).toBe("sending");
    expect(sendPhase({ state: "sending", upload: null }, true)).toBe("waiting");
    expect(sendPhase({ state: "failed", code: "network", reason: "", recoverable: true }, false)).toBe("retrying");
    expect(sendPhase({ state: "failed", code: "server", reason: "", recoverable: false }, true)).toBe("failed");
  });
});

describe("SendProblemsStore", () => {
  it("keeps one notice per conversation (the latest reason), dismissed one by one or per room", () => {
    const store = new SendProblemsStore();
    store.apply(sendProblem("!a", "A"));
    store.apply(sendProblem("!b", "B"));
    store.apply(sendProblem("!a", "A", { code: "tooLarge" }));
    store.apply(sendProblem("!c", "C"));
    expect(store.items.map((p) => [p.roomId, p.code])).toEqual([
      ["!b", "server"],
      ["!a", "tooLarge"],
      ["!c", "server"],
    ]);
    store.dismiss(store.items[2]!.key);
    expect(store.items).toHaveLength(2);
    store.dismissRoom("!a");
    expect(store.items.map((p) => p.roomId)).toEqual(["!b"]);
  });
});
