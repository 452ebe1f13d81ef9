import { beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import Composer from "$lib/components/Composer.svelte";
import type { ReplyTarget } from "$lib/reply";
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
    expect(backend.commands.sendMessage).toHaveBeenCalledWith("!a", "Mevrouw heeft goed geslapen.", [], null, false);
    await vi.waitFor(() => expect(input).toHaveValue(""));
    expect(screen.queryByTestId("composer-error")).not.toBeInTheDocument();
  });

  it("does not send on a plain Enter (that is a new line)", async () => {
    const user = userEvent.setup();
    render(Composer, { roomId: "!a" });
    await user.type(screen.getByTestId("composer-input"), "regel 1{Enter}regel 2");
    expect(backend.commands.sendMessage).not.toHaveBeenCalled();
    expect(screen.getByTestId("composer-input")).toHaveValue("regel 1\nregel 2");
  });

  it("keeps the text until sendMessage returns ok", async () => {
    let resolve!: (v: unknown) => void;
    backend.commands.sendMessage.mockReturnValueOnce(new Promise((r) => (resolve = r)));
    const user = userEvent.setup();
    render(Composer, { roomId: "!a" });
    const input = screen.getByTestId("composer-input");
    await user.type(input, "Bel de huisarts");
    await user.click(screen.getByTestId("composer-send"));
    expect(backend.commands.sendMessage).toHaveBeenCalledWith("!a", "Bel de huisarts", [], null, false);
    expect(input).toHaveValue("Bel de huisarts");
    expect(screen.getByTestId("composer-send")).toBeDisabled();
    resolve(ok(null));
    await vi.waitFor(() => expect(input).toHaveValue(""));
  });

  it("keeps the text and shows a readable error when sending fails", async () => {
    backend.commands.sendMessage.mockResolvedValueOnce(err("send_failed", "room is not encrypted for 2 devices"));
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
    expect(backend.commands.sendMessage).not.toHaveBeenCalled();
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

const pdf = (name: string, text = "%PDF") => new File([text], name, { type: "application/pdf" });
const bytes = (text: string) => Array.from(new TextEncoder().encode(text));
const toBram: ReplyTarget = {
  eventId: "$vraag",
  senderName: "Bram Visser",
  isOwn: false,
  snippet: "Kan iemand vanmiddag de wond bekijken?",
};

describe("Composer: attachments", () => {
  it("sends text with the files' bytes, then clears text and files", async () => {
    const user = userEvent.setup();
    render(Composer, { roomId: "!a" });
    await user.type(screen.getByTestId("composer-input"), "Zie lijst");
    await user.upload(screen.getByTestId("attachment-input") as HTMLInputElement, [
      pdf("lijst.pdf", "abc"),
      new File(["\u0001\u0002"], "ruw.bin"),
    ]);
    expect(screen.getByTestId("attachment-counter")).toHaveTextContent("2 / 5");
    await user.click(screen.getByTestId("composer-send"));

    // Reading the files takes a moment (FileReader), so the call comes a little later.
    await vi.waitFor(() =>
      expect(backend.commands.sendMessage).toHaveBeenCalledWith(
        "!a",
        "Zie lijst",
        [
          { filename: "lijst.pdf", mime: "application/pdf", data: bytes("abc") },
          // No type from the picker: Rust guesses it from the content.
          { filename: "ruw.bin", mime: null, data: [1, 2] },
        ],
        null,
        false,
      ),
    );
    await vi.waitFor(() => expect(screen.getByTestId("composer-input")).toHaveValue(""));
    expect(screen.queryAllByTestId("attachment-item")).toHaveLength(0);
    expect(screen.getByTestId("attachment-counter")).toHaveTextContent("0 / 5");
  });

  it("sends files without text", async () => {
    const user = userEvent.setup();
    render(Composer, { roomId: "!a" });
    expect(screen.getByTestId("composer-send")).toBeDisabled();
    await user.upload(screen.getByTestId("attachment-input") as HTMLInputElement, pdf("scan.pdf", "x"));
    expect(screen.getByTestId("composer-send")).toBeEnabled();
    await user.click(screen.getByTestId("composer-send"));
    await vi.waitFor(() =>
      expect(backend.commands.sendMessage).toHaveBeenCalledWith(
        "!a",
        "",
        [{ filename: "scan.pdf", mime: "application/pdf", data: [120] }],
        null,
        false,
      ),
    );
    await vi.waitFor(() => expect(screen.queryAllByTestId("attachment-item")).toHaveLength(0));
  });

  it("keeps text and files when sending fails, and sends them again on retry", async () => {
    backend.commands.sendMessage.mockResolvedValueOnce(err("too_many_attachments", "6"));
    const user = userEvent.setup();
    render(Composer, { roomId: "!a" });
    await user.type(screen.getByTestId("composer-input"), "Wondfoto's");
    await user.upload(screen.getByTestId("attachment-input") as HTMLInputElement, [pdf("a.pdf"), pdf("b.pdf")]);
    await user.click(screen.getByTestId("composer-send"));

    expect(await screen.findByTestId("composer-error")).toHaveTextContent("Een bericht kan hoogstens 5 bijlagen hebben.");
    expect(screen.getByTestId("composer-input")).toHaveValue("Wondfoto's");
    expect(screen.getAllByTestId("attachment-item")).toHaveLength(2);

    await user.click(screen.getByTestId("composer-send"));
    await vi.waitFor(() => expect(backend.commands.sendMessage).toHaveBeenCalledTimes(2));
    expect(backend.commands.sendMessage.mock.calls[1]![2]).toHaveLength(2);
    await vi.waitFor(() => expect(screen.queryAllByTestId("attachment-item")).toHaveLength(0));
    expect(screen.queryByTestId("composer-error")).not.toBeInTheDocument();
  });

  it("does not send when a file can no longer be read, and names it", async () => {
    const gone = pdf("verplaatst.pdf");
    Object.defineProperty(gone, "arrayBuffer", { value: () => Promise.reject(new Error("NotReadableError")) });
    const onerror = vi.fn();
    const user = userEvent.setup();
    render(Composer, { roomId: "!a", onerror });
    await user.type(screen.getByTestId("composer-input"), "Zie bijlage");
    await user.upload(screen.getByTestId("attachment-input") as HTMLInputElement, gone);
    await user.click(screen.getByTestId("composer-send"));

    expect(await screen.findByTestId("composer-error")).toHaveTextContent("Een bijlage kon niet worden gelezen.");
    expect(backend.commands.sendMessage).not.toHaveBeenCalled();
    expect(onerror).toHaveBeenCalledWith(
      expect.objectContaining({ code: "attachment_unreadable", detail: expect.stringContaining("verplaatst.pdf") }),
    );
    expect(screen.getByTestId("composer-input")).toHaveValue("Zie bijlage");
    expect(screen.getAllByTestId("attachment-item")).toHaveLength(1);
  });

  it("keeps a sent file's text typed meanwhile, and files added meanwhile", async () => {
    let resolve!: (v: unknown) => void;
    backend.commands.sendMessage.mockReturnValueOnce(new Promise((r) => (resolve = r)));
    const user = userEvent.setup();
    render(Composer, { roomId: "!a" });
    const input = screen.getByTestId("composer-input");
    await user.upload(screen.getByTestId("attachment-input") as HTMLInputElement, pdf("eerste.pdf"));
    await user.click(screen.getByTestId("composer-send"));
    await vi.waitFor(() => expect(backend.commands.sendMessage).toHaveBeenCalledTimes(1));
    await user.type(input, "nog iets");
    await user.upload(screen.getByTestId("attachment-input") as HTMLInputElement, pdf("tweede.pdf"));
    resolve(ok(null));
    await vi.waitFor(() => expect(screen.getByTestId("composer-send")).toHaveTextContent("Versturen"));
    expect(input).toHaveValue("nog iets");
    expect(screen.getAllByTestId("attachment-item").map((i) => i.textContent)).toEqual([
      expect.stringContaining("eerste.pdf"),
      expect.stringContaining("tweede.pdf"),
    ]);
  });

  it("keeps the files of a room's draft when the room is left and opened again", async () => {
    const user = userEvent.setup();
    const first = render(Composer, { roomId: "!a" });
    await user.upload(screen.getByTestId("attachment-input") as HTMLInputElement, pdf("half.pdf"));
    first.unmount();
    const other = render(Composer, { roomId: "!b" });
    expect(screen.queryAllByTestId("attachment-item")).toHaveLength(0);
    other.unmount();
    render(Composer, { roomId: "!a" });
    expect(screen.getByTestId("attachment-item")).toHaveTextContent("half.pdf");
  });
});

describe("Composer: replies", () => {
  it("shows what is answered, focuses the text box and sends the reply's event id", async () => {
    const user = userEvent.setup();
    const view = render(Composer, { roomId: "!a" });
    expect(screen.queryByTestId("composer-reply")).toBeNull();
    await view.component.reply(toBram);

    expect(screen.getByTestId("composer-reply")).toHaveTextContent(
      "Antwoord op Bram Visser: Kan iemand vanmiddag de wond bekijken?",
    );
    expect(screen.getByTestId("composer-input")).toHaveFocus();
    expect(screen.getByTestId("composer-input")).toHaveAccessibleDescription(
      expect.stringContaining("Antwoord op Bram Visser"),
    );
    await user.keyboard("Ik ga om 3 uur{Control>}{Enter}{/Control}");
    expect(backend.commands.sendMessage).toHaveBeenCalledWith("!a", "Ik ga om 3 uur", [], "$vraag", false);
    await vi.waitFor(() => expect(screen.queryByTestId("composer-reply")).toBeNull());
    expect(screen.getByTestId("composer-input")).toHaveValue("");
  });

  it("words a reply to your own message as such", async () => {
    const view = render(Composer, { roomId: "!a" });
    await view.component.reply({ ...toBram, isOwn: true, snippet: "Wie kan er morgen?" });
    expect(screen.getByTestId("composer-reply")).toHaveTextContent("Antwoord op jouw bericht: Wie kan er morgen?");
  });

  it("cancels the reply with ×, keeping the text", async () => {
    const user = userEvent.setup();
    const view = render(Composer, { roomId: "!a" });
    await view.component.reply(toBram);
    await user.keyboard("Goed idee");
    const cancel = screen.getByTestId("composer-reply-cancel");
    expect(cancel).toHaveAccessibleName("Antwoord annuleren");
    await user.click(cancel);
    expect(screen.queryByTestId("composer-reply")).toBeNull();
    expect(screen.getByTestId("composer-input")).toHaveFocus();
    await user.click(screen.getByTestId("composer-send"));
    expect(backend.commands.sendMessage).toHaveBeenCalledWith("!a", "Goed idee", [], null, false);
  });

  it("keeps the reply (and the files) when sending fails", async () => {
    backend.commands.sendMessage.mockResolvedValueOnce(err("send_failed"));
    const user = userEvent.setup();
    const view = render(Composer, { roomId: "!a" });
    await view.component.reply(toBram);
    await user.keyboard("Zie foto");
    await user.upload(screen.getByTestId("attachment-input") as HTMLInputElement, pdf("wond.pdf"));
    await user.click(screen.getByTestId("composer-send"));
    expect(await screen.findByTestId("composer-error")).toBeInTheDocument();
    expect(screen.getByTestId("composer-reply")).toHaveTextContent("Antwoord op Bram Visser");
    expect(screen.getByTestId("composer-input")).toHaveValue("Zie foto");
    expect(screen.getAllByTestId("attachment-item")).toHaveLength(1);
  });

  it("keeps the reply in the room's draft", async () => {
    const first = render(Composer, { roomId: "!a" });
    await first.component.reply(toBram);
    first.unmount();
    render(Composer, { roomId: "!a" });
    expect(screen.getByTestId("composer-reply")).toHaveTextContent("Antwoord op Bram Visser");
  });
});

describe("Composer: urgent", () => {
  it("is a labelled toggle with an icon and the word, pressed state visible in words too", async () => {
    const user = userEvent.setup();
    render(Composer, { roomId: "!a" });
    const toggle = screen.getByRole("button", { name: "Urgent" });
    expect(toggle).toHaveAttribute("aria-pressed", "false");
    expect(toggle.querySelector('svg[data-icon="urgent"]')).toHaveAttribute("aria-hidden", "true");
    expect(screen.queryByTestId("composer-urgent-note")).toBeNull();

    await user.click(toggle);
    expect(toggle).toHaveAttribute("aria-pressed", "true");
    expect(screen.getByTestId("composer-urgent-note")).toHaveTextContent("Wordt als urgent verstuurd");
    expect(screen.getByTestId("composer-input")).toHaveAccessibleDescription(expect.stringContaining("Wordt als urgent verstuurd"));
    await user.keyboard(" "); // the focused toggle works from the keyboard
    expect(toggle).toHaveAttribute("aria-pressed", "false");
  });

  it("sends the message as urgent and switches urgent off once it is queued", async () => {
    const user = userEvent.setup();
    render(Composer, { roomId: "!a" });
    await user.click(screen.getByTestId("composer-urgent"));
    await user.type(screen.getByTestId("composer-input"), "Mevrouw is gevallen");
    await user.keyboard("{Control>}{Enter}{/Control}");
    expect(backend.commands.sendMessage).toHaveBeenCalledWith("!a", "Mevrouw is gevallen", [], null, true);
    await vi.waitFor(() => expect(screen.getByTestId("composer-urgent")).toHaveAttribute("aria-pressed", "false"));
    expect(screen.getByTestId("composer-input")).toHaveValue("");

    await user.type(screen.getByTestId("composer-input"), "Gewoon bericht{Control>}{Enter}{/Control}");
    expect(backend.commands.sendMessage).toHaveBeenLastCalledWith("!a", "Gewoon bericht", [], null, false);
  });

  it("keeps text, files and urgent when sending fails, and sends them all again", async () => {
    backend.commands.sendMessage.mockResolvedValueOnce(err("send_failed", "store locked"));
    const user = userEvent.setup();
    render(Composer, { roomId: "!a" });
    await user.click(screen.getByTestId("composer-urgent"));
    await user.type(screen.getByTestId("composer-input"), "Wond bloedt");
    await user.upload(screen.getByTestId("attachment-input") as HTMLInputElement, pdf("wond.pdf", "w"));
    await user.click(screen.getByTestId("composer-send"));

    expect(await screen.findByTestId("composer-error")).toBeInTheDocument();
    expect(screen.getByTestId("composer-urgent")).toHaveAttribute("aria-pressed", "true");
    expect(screen.getByTestId("composer-input")).toHaveValue("Wond bloedt");
    expect(screen.getAllByTestId("attachment-item")).toHaveLength(1);

    await user.click(screen.getByTestId("composer-send"));
    await vi.waitFor(() => expect(backend.commands.sendMessage).toHaveBeenCalledTimes(2));
    expect(backend.commands.sendMessage.mock.calls[1]).toEqual([
      "!a",
      "Wond bloedt",
      [{ filename: "wond.pdf", mime: "application/pdf", data: [119] }],
      null,
      true,
    ]);
    await vi.waitFor(() => expect(screen.getByTestId("composer-urgent")).toHaveAttribute("aria-pressed", "false"));
  });

  it("keeps urgent when a file cannot be read (nothing was sent)", async () => {
    const gone = pdf("weg.pdf");
    Object.defineProperty(gone, "arrayBuffer", { value: () => Promise.reject(new Error("NotReadableError")) });
    const user = userEvent.setup();
    render(Composer, { roomId: "!a" });
    await user.click(screen.getByTestId("composer-urgent"));
    await user.upload(screen.getByTestId("attachment-input") as HTMLInputElement, gone);
    await user.click(screen.getByTestId("composer-send"));
    expect(await screen.findByTestId("composer-error")).toBeInTheDocument();
    expect(screen.getByTestId("composer-urgent")).toHaveAttribute("aria-pressed", "true");
  });

  it("keeps urgent in the room's draft, and only in that room", async () => {
    const user = userEvent.setup();
    const first = render(Composer, { roomId: "!a" });
    await user.click(screen.getByTestId("composer-urgent"));
    first.unmount();
    const other = render(Composer, { roomId: "!b" });
    expect(screen.getByTestId("composer-urgent")).toHaveAttribute("aria-pressed", "false");
    other.unmount();
    render(Composer, { roomId: "!a" });
    expect(screen.getByTestId("composer-urgent")).toHaveAttribute("aria-pressed", "true");
  });
});
