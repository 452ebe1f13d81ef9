import { beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import RetentionNotice from "$lib/components/RetentionNotice.svelte";
import type { ExpiringConversation } from "$lib/ipc";
import { backend, err, ok } from "../../test/fakeBackend";
import { informationSystem } from "$lib/stores/informationSystem.svelte";

const DAY = 24 * 3600 * 1000;

function expiring(roomId: string, inDays: number, archived = false): ExpiringConversation {
  const expiresMs = Date.now() + inDays * DAY;
  return { spaceId: "!space", roomId, oldestMessageMs: expiresMs - 7300 * DAY, expiresMs, archived };
}

beforeEach(() => {
  backend.reset();
  informationSystem.forget();
});

describe("RetentionNotice", () => {
  it("says nothing when no messages expire soon", async () => {
    render(RetentionNotice, { spaceId: "!space" });
    await vi.waitFor(() => expect(backend.commands.expiringConversations).toHaveBeenCalledWith("!space"));
    expect(screen.queryByTestId("retention-notice")).not.toBeInTheDocument();
  });

  it("counts what is not archived yet, names the first date, and archives those to the ECD", async () => {
    backend.commands.informationSystem.mockResolvedValue(ok("https://ecd.example/fhir"));
    backend.commands.expiringConversations.mockResolvedValueOnce(
      ok([expiring("!soon", 3), expiring("!later", 20), expiring("!kept", 1, true)]),
    );
    const user = userEvent.setup();
    render(RetentionNotice, { spaceId: "!space" });
    const notice = await screen.findByTestId("retention-notice");
    expect(notice).toHaveTextContent("in 2 gesprek(ken) worden berichten binnenkort verwijderd");
    const first = new Date(Date.now() + 3 * DAY).toLocaleDateString("nl-NL", { day: "numeric", month: "long", timeZone: "Europe/Amsterdam" });
    expect(notice).toHaveTextContent(first);

    backend.commands.expiringConversations.mockResolvedValueOnce(
      ok([expiring("!soon", 3, true), expiring("!later", 20, true), expiring("!kept", 1, true)]),
    );
    await user.click(await screen.findByTestId("retention-archive"));
    expect(backend.commands.archiveToInformationSystem.mock.calls.map((c) => c[0])).toEqual(["!soon", "!later"]);
    expect(await screen.findByTestId("retention-archived")).toHaveTextContent("2 gesprek(ken) in het ECD gearchiveerd");
    expect(screen.queryByTestId("retention-notice")).not.toBeInTheDocument();
  });

  it("keeps the offer when the ECD is away, with the reason", async () => {
    backend.commands.informationSystem.mockResolvedValue(ok("https://ecd.example/fhir"));
    backend.commands.expiringConversations.mockResolvedValue(ok([expiring("!soon", 3)]));
    backend.commands.archiveToInformationSystem.mockResolvedValueOnce(err("archive_endpoint_unreachable", "refused"));
    const user = userEvent.setup();
    render(RetentionNotice, { spaceId: "!space" });
    await user.click(await screen.findByTestId("retention-archive"));
    expect(await screen.findByTestId("retention-archive-error")).toHaveTextContent(
      "Het ECD van je organisatie is niet bereikbaar.",
    );
    expect(screen.getByTestId("retention-notice")).toBeInTheDocument();
    expect(screen.getByTestId("retention-archive")).toBeEnabled();
  });

  it("without an ECD, says whom to ask", async () => {
    backend.commands.expiringConversations.mockResolvedValue(ok([expiring("!soon", 3)]));
    render(RetentionNotice, { spaceId: "!space" });
    expect(await screen.findByTestId("retention-notice")).toHaveTextContent("vraag je beheerder");
    expect(screen.queryByTestId("retention-archive")).not.toBeInTheDocument();
  });
});
