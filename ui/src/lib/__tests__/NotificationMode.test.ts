// "Meldingen" in a conversation's header: how much of it makes a notification.
import { beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import ConversationHeader from "$lib/components/ConversationHeader.svelte";
import { ConversationsStore } from "$lib/stores/conversations.svelte";
import { backend, conversation, err, ok } from "../../test/fakeBackend";

beforeEach(() => backend.reset());

function setup(onerror = vi.fn()) {
  const user = userEvent.setup();
  render(ConversationHeader, {
    conversation: conversation("!a", "Medicatie"),
    store: new ConversationsStore(),
    onerror,
  });
  return user;
}

describe("a conversation's notification mode", () => {
  it("shows the current mode, the three choices and that urgent messages always notify", async () => {
    backend.commands.conversationNotificationMode.mockResolvedValueOnce(ok("mentionsAndUrgent"));
    setup();
    const select = await screen.findByRole("combobox", { name: "Meldingen" });
    expect(backend.commands.conversationNotificationMode).toHaveBeenCalledWith("!a");
    expect(select).toHaveValue("mentionsAndUrgent");
    expect(Array.from((select as HTMLSelectElement).options).map((o) => o.textContent)).toEqual([
      "Alle berichten",
      "Alleen vermeldingen en urgent",
      "Stil",
    ]);
    expect(select).toHaveAccessibleDescription("Urgente berichten geven altijd een melding.");
  });

  it("saves a new choice in Rust", async () => {
    const user = setup();
    const select = await screen.findByRole("combobox", { name: "Meldingen" });
    await user.selectOptions(select, "mute");
    expect(backend.commands.setConversationNotificationMode).toHaveBeenCalledWith("!a", "mute");
    await vi.waitFor(() => expect(select).toBeEnabled());
    expect(select).toHaveValue("mute");
    expect(screen.queryByTestId("notification-mode-error")).toBeNull();
  });

  it("goes back to the old choice and says why when Rust refuses", async () => {
    backend.commands.setConversationNotificationMode.mockResolvedValueOnce(err("homeserver_unreachable", "push rules"));
    const onerror = vi.fn();
    const user = setup(onerror);
    const select = await screen.findByRole("combobox", { name: "Meldingen" });
    await user.selectOptions(select, "mute");
    expect(await screen.findByTestId("notification-mode-error")).toHaveTextContent("niet bereikbaar");
    expect(screen.getByText("De meldingen voor dit gesprek zijn niet gewijzigd")).toBeInTheDocument();
    expect(select).toHaveValue("all");
    expect(onerror).toHaveBeenCalledWith({ code: "homeserver_unreachable", detail: "push rules" });
  });

  it("says so when the mode cannot be read", async () => {
    backend.commands.conversationNotificationMode.mockResolvedValueOnce(err("unknown_room"));
    setup();
    expect(await screen.findByText("De meldingen voor dit gesprek konden niet worden geladen")).toBeInTheDocument();
    expect(screen.queryByRole("combobox", { name: "Meldingen" })).toBeNull();
  });
});
