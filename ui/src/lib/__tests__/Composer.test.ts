import { beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import Composer from "$lib/components/Composer.svelte";
import { composerDrafts } from "$lib/stores/drafts";
import { backend, err, ok } from "../../test/fakeBackend";

beforeEach(() => {
  backend.reset();
  composerDrafts.clear();
});

describe("Composer", () => {
  it("is a labelled text box with a send button", () => {
    render(Composer, { roomId: "!a" });
    expect(screen.getByLabelText("Bericht")).toBe(screen.getByTestId("composer-input"));
    expect(screen.getByTestId("composer-send")).toHaveTextContent("Versturen");
    expect(screen.getByTestId("composer-send")).toBeDisabled();
  });

  it("sends on Ctrl+Enter and clears the text after Rust accepted it", async () => {
    const user = userEvent.setup();
    render(Composer, { roomId: "!a" });
    const input = screen.getByTestId("composer-input");
    await user.type(input, "Mevrouw heeft goed geslapen.");
    await user.keyboard("{Control>}{Enter}{/Control}");
    expect(backend.commands.sendText).toHaveBeenCalledWith("!a", "Mevrouw heeft goed geslapen.");
    await vi.waitFor(() => expect(input).toHaveValue(""));
    expect(screen.queryByTestId("composer-error")).not.toBeInTheDocument();
  });

  it("does not send on a plain Enter (that is a new line)", async () => {
    const user = userEvent.setup();
    render(Composer, { roomId: "!a" });
    await user.type(screen.getByTestId("composer-input"), "regel 1{Enter}regel 2");
    expect(backend.commands.sendText).not.toHaveBeenCalled();
    expect(screen.getByTestId("composer-input")).toHaveValue("regel 1\nregel 2");
  });

  it("keeps the text until sendText returns ok", async () => {
    let resolve!: (v: unknown) => void;
    backend.commands.sendText.mockReturnValueOnce(new Promise((r) => (resolve = r)));
    const user = userEvent.setup();
    render(Composer, { roomId: "!a" });
    const input = screen.getByTestId("composer-input");
    await user.type(input, "Bel de huisarts");
    await user.click(screen.getByTestId("composer-send"));
    expect(backend.commands.sendText).toHaveBeenCalledWith("!a", "Bel de huisarts");
    expect(input).toHaveValue("Bel de huisarts");
    expect(screen.getByTestId("composer-send")).toBeDisabled();
    resolve(ok(null));
    await vi.waitFor(() => expect(input).toHaveValue(""));
  });

  it("keeps the text and shows a readable error when sending fails", async () => {
    backend.commands.sendText.mockResolvedValueOnce(err("send_failed", "room is not encrypted for 2 devices"));
    const user = userEvent.setup();
    render(Composer, { roomId: "!a" });
    const input = screen.getByTestId("composer-input");
    await user.type(input, "Medicatie aangepast");
    await user.keyboard("{Control>}{Enter}{/Control}");

    const error = await screen.findByTestId("composer-error");
    expect(error).toHaveTextContent("Het bericht is niet verstuurd. Probeer het opnieuw.");
    expect(input).toHaveValue("Medicatie aangepast");

    // Retrying works and removes the error.
    await user.click(screen.getByTestId("composer-send"));
    await vi.waitFor(() => expect(input).toHaveValue(""));
    expect(screen.queryByTestId("composer-error")).not.toBeInTheDocument();
  });

  it("does not send only whitespace", async () => {
    const user = userEvent.setup();
    render(Composer, { roomId: "!a" });
    await user.type(screen.getByTestId("composer-input"), "   ");
    await user.keyboard("{Control>}{Enter}{/Control}");
    expect(backend.commands.sendText).not.toHaveBeenCalled();
  });

  it("keeps a draft per room", async () => {
    const user = userEvent.setup();
    const first = render(Composer, { roomId: "!a" });
    await user.type(screen.getByTestId("composer-input"), "half af");
    first.unmount();
    render(Composer, { roomId: "!a" });
    expect(screen.getByTestId("composer-input")).toHaveValue("half af");
  });
});
