import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import NewConversation from "$lib/components/NewConversation.svelte";
import { CareNetworkStore } from "$lib/stores/careNetwork.svelte";
import { ConversationsStore } from "$lib/stores/conversations.svelte";
import { conversationDrafts } from "$lib/stores/drafts";
import { aSession, absence, backend, careNetwork, err, member, ok, participant } from "../../test/fakeBackend";

const me = aSession.userId;
const team = [
  member(me, "An de Vries", "lead"),
  member("@bram:zorg.example", "Bram Visser", "practitioner"),
  member("@sara:zorg.example", "Sara Bakker", "senior"),
  member("@henk:zorg.example", "Henk Jansen", "related_person"),
  member("@jansen:zorg.example", "Mw. Jansen", "client", false),
];

let store: ConversationsStore;

beforeEach(async () => {
  backend.reset();
  conversationDrafts.clear();
  backend.commands.careTeamMembers.mockResolvedValue(ok(team));
  store = new ConversationsStore();
  await store.open("!space");
});

afterEach(() => store.close());

function setup(extra: { onstarted?: (roomId: string) => void; network?: CareNetworkStore } = {}) {
  const onstarted = extra.onstarted ?? vi.fn();
  const user = userEvent.setup();
  const view = render(NewConversation, {
    store,
    network: extra.network,
    spaceId: "!space",
    clientName: "Mw. Jansen",
    ownUserId: me,
    onstarted,
    oncancel: vi.fn(),
  });
  return { user, onstarted, unmount: view.unmount };
}

function checkbox(userId: string): HTMLInputElement {
  const option = screen
    .getAllByTestId("recipient-option")
    .find((o) => o.getAttribute("data-user-id") === userId);
  if (!option) throw new Error(`no recipient option for ${userId}`);
  return within(option).getByRole("checkbox") as HTMLInputElement;
}

describe("NewConversation: subject", () => {
  it("counts characters live and refuses 51 with an explanation and a disabled submit", async () => {
    const { user } = setup();
    const subject = screen.getByTestId("subject-input");
    expect(subject).toHaveFocus();
    expect(screen.getByTestId("subject-counter")).toHaveTextContent("0 / 50");

    await user.type(subject, "Medicatie");
    expect(screen.getByTestId("subject-counter")).toHaveTextContent("9 / 50");

    await user.clear(subject);
    await user.click(subject);
    await user.paste("x".repeat(50));
    expect(screen.getByTestId("subject-counter")).toHaveTextContent("50 / 50");
    expect(subject).not.toHaveAttribute("aria-invalid");
    expect(screen.getByTestId("new-conversation-submit")).toBeEnabled();

    await user.type(subject, "y");
    expect(screen.getByTestId("subject-counter")).toHaveTextContent("51 / 50");
    expect(screen.getByTestId("subject-counter")).toHaveClass("over");
    expect(subject).toHaveAttribute("aria-invalid", "true");
    const reason = screen.getByTestId("subject-error");
    expect(reason).toHaveTextContent("Het onderwerp is 51 tekens lang; er mogen hoogstens 50.");
    const submit = screen.getByTestId("new-conversation-submit");
    expect(submit).toBeDisabled();
    expect(submit).toHaveAttribute("aria-describedby", reason.id);
    await user.click(submit);
    expect(backend.commands.startConversation).not.toHaveBeenCalled();

    await user.type(subject, "{Backspace}");
    expect(screen.getByTestId("subject-counter")).toHaveTextContent("50 / 50");
    expect(screen.queryByTestId("subject-error")).not.toBeInTheDocument();
    expect(screen.getByTestId("new-conversation-submit")).toBeEnabled();
  });

  it("counts an accented letter or an emoji as one character, as Rust does", async () => {
    const { user } = setup();
    await user.type(screen.getByTestId("subject-input"), "Cliënt 👍");
    expect(screen.getByTestId("subject-counter")).toHaveTextContent("8 / 50");
    // A plain Enter in the subject does not send a half-written conversation.
    await user.keyboard("{Enter}");
    expect(backend.commands.startConversation).not.toHaveBeenCalled();
  });
});

describe("NewConversation: recipients", () => {
  it("offers only the care team's members, never yourself", () => {
    setup();
    const ids = screen.getAllByTestId("recipient-option").map((o) => o.getAttribute("data-user-id"));
    expect(ids).toEqual(["@bram:zorg.example", "@sara:zorg.example", "@henk:zorg.example", "@jansen:zorg.example"]);
    expect(screen.getAllByTestId("recipient-option")[0]).toHaveTextContent("Bram Visser");
    expect(screen.getAllByTestId("recipient-option")[0]).toHaveTextContent("Zorgverlener");
  });

  it("disables clients and related persons, with the reason, in a professionals-only conversation", async () => {
    const { user } = setup();
    expect(screen.getByTestId("kind-professional")).toBeChecked();
    expect(checkbox("@bram:zorg.example")).toBeEnabled();
    expect(checkbox("@sara:zorg.example")).toBeEnabled();
    for (const lay of ["@henk:zorg.example", "@jansen:zorg.example"]) {
      expect(checkbox(lay)).toBeDisabled();
      expect(checkbox(lay)).toHaveAccessibleDescription(
        "kan niet meedoen aan een gesprek alleen voor professionals",
      );
    }

    await user.click(screen.getByTestId("kind-client-inclusive"));
    expect(checkbox("@henk:zorg.example")).toBeEnabled();
    await user.click(checkbox("@henk:zorg.example"));
    await user.click(checkbox("@bram:zorg.example"));
    expect(checkbox("@henk:zorg.example")).toBeChecked();

    // Back to professionals only: Henk is left out (and ticked again if the kind changes back).
    await user.click(screen.getByTestId("kind-professional"));
    expect(checkbox("@henk:zorg.example")).toBeDisabled();
    expect(checkbox("@henk:zorg.example")).not.toBeChecked();

    await user.type(screen.getByTestId("subject-input"), "Valpreventie");
    await user.type(screen.getByTestId("body-input"), "Graag overleg.");
    await user.click(screen.getByTestId("new-conversation-submit"));
    expect(backend.commands.startConversation).toHaveBeenCalledWith({
      spaceId: "!space",
      subject: "Valpreventie",
      body: "Graag overleg.",
      recipients: ["@bram:zorg.example"],
      kind: "professional",
      attachments: [],
      sensitive: false,
    });
  });

  it("sends related persons along in a conversation with the client", async () => {
    const onstarted = vi.fn();
    const { user } = setup({ onstarted });
    await user.click(screen.getByTestId("kind-client-inclusive"));
    await user.click(checkbox("@henk:zorg.example"));
    await user.type(screen.getByTestId("subject-input"), "Thuissituatie");
    await user.type(screen.getByTestId("body-input"), "Hoe gaat het thuis?");
    await user.keyboard("{Control>}{Enter}{/Control}");
    expect(backend.commands.startConversation).toHaveBeenCalledWith(
      expect.objectContaining({ kind: "client_inclusive", recipients: ["@henk:zorg.example"] }),
    );
    await vi.waitFor(() => expect(onstarted).toHaveBeenCalledWith(expect.stringMatching(/^!conversation-/)));
    // The conversations are read again after the start.
    expect(backend.commands.conversations).toHaveBeenCalledTimes(2);
  });
});

describe("NewConversation: recipients from the care network", () => {
  const year = new Date().getFullYear();
  let network: CareNetworkStore;

  beforeEach(async () => {
    backend.commands.careTeamMembers.mockResolvedValue(
      ok([...team, member("@karim:brug.example", "Karim El Amrani (huisarts)", "practitioner")]),
    );
    await store.refresh();
    network = new CareNetworkStore();
    await network.open("!space");
    backend.pushCareNetwork(
      careNetwork("!space", [
        participant("@karim:brug.example", "Karim El Amrani", "practitioner", {
          function: "Huisarts",
          organisation: "Huisartsenpraktijk De Brug",
          absences: [absence(`${year}-11-29`, `${year}-12-06T17:00:00+01:00`, "Vakantie", true)],
        }),
        participant("@bram:zorg.example", "Bram Visser", "practitioner", {
          function: "Wondverpleegkundige",
          organisation: "Thuiszorg Aurora",
          absences: [absence(`${year}-12-20`, `${year}-12-24`, "Cursus")],
        }),
        participant("@sara:zorg.example", "Sara Bakker", "senior", { absences: [absence(null, null, null, true)] }),
        participant("@henk:zorg.example", "Henk Jansen", "related_person", {
          relation: "Zoon, mantelzorger",
          absences: [absence(null, `${year}-12-31`, null, true)],
        }),
      ]),
    );
  });

  afterEach(() => network.close());

  function option(userId: string): HTMLElement {
    return screen.getAllByTestId("recipient-option").find((o) => o.getAttribute("data-user-id") === userId)!;
  }

  it("says what each candidate does or how they are related, and who is away now", () => {
    setup({ network });
    expect(option("@karim:brug.example")).toHaveTextContent("Karim El Amrani");
    expect(option("@karim:brug.example")).toHaveTextContent("Huisarts · Huisartsenpraktijk De Brug");
    expect(within(option("@karim:brug.example")).getByTestId("away-now")).toHaveTextContent("Afwezig tot 6 dec");
    expect(option("@bram:zorg.example")).toHaveTextContent("Wondverpleegkundige · Thuiszorg Aurora");
    expect(within(option("@bram:zorg.example")).queryByTestId("away-now")).not.toBeInTheDocument();
    expect(option("@henk:zorg.example")).toHaveTextContent("Zoon, mantelzorger");
    // Not in the network (yet): the care-team member as before.
    expect(option("@jansen:zorg.example")).toHaveTextContent("Mw. Jansen");
    expect(screen.queryByTestId("absent-warning")).not.toBeInTheDocument();
  });

  it("warns at once when an away recipient is chosen, with the period, and never for others", async () => {
    const { user } = setup({ network });
    await user.click(checkbox("@bram:zorg.example"));
    expect(screen.queryByTestId("absent-warning")).not.toBeInTheDocument();

    await user.click(checkbox("@karim:brug.example"));
    const warning = screen.getByTestId("absent-warning");
    expect(warning).toHaveAttribute("role", "status");
    expect(warning).toHaveAttribute("data-user-id", "@karim:brug.example");
    expect(warning).toHaveTextContent(
      "Karim El Amrani is afwezig van 29 nov tot 6 dec (Vakantie). Je bericht komt wel aan.",
    );
    expect(checkbox("@karim:brug.example")).toHaveAccessibleDescription(expect.stringContaining("is afwezig van 29 nov"));

    // Open-ended: no period to name.
    await user.click(checkbox("@sara:zorg.example"));
    // One warning per person, next to their name (in the list's order).
    expect(screen.getAllByTestId("absent-warning").map((w) => w.getAttribute("data-user-id"))).toEqual([
      "@sara:zorg.example",
      "@karim:brug.example",
    ]);
    expect(screen.getAllByTestId("absent-warning")[0]).toHaveTextContent(/Sara Bakker is afwezig\. Je bericht komt wel aan\.$/);

    await user.click(checkbox("@karim:brug.example"));
    expect(screen.getAllByTestId("absent-warning")).toHaveLength(1);
    await user.click(checkbox("@sara:zorg.example"));
    expect(screen.queryByTestId("absent-warning")).not.toBeInTheDocument();
  });

  it("does not block sending to someone away, and warns only for who takes part", async () => {
    const { user } = setup({ network });
    await user.click(screen.getByTestId("kind-client-inclusive"));
    await user.click(checkbox("@henk:zorg.example"));
    expect(screen.getByTestId("absent-warning")).toHaveTextContent("Henk Jansen is afwezig tot 31 dec.");
    // Back to professionals only: Henk is left out, so is his warning.
    await user.click(screen.getByTestId("kind-professional"));
    expect(screen.queryByTestId("absent-warning")).not.toBeInTheDocument();

    await user.click(checkbox("@karim:brug.example"));
    await user.type(screen.getByTestId("subject-input"), "Medicatie");
    await user.type(screen.getByTestId("body-input"), "Graag herhaalrecept.");
    await user.click(screen.getByTestId("new-conversation-submit"));
    expect(backend.commands.startConversation).toHaveBeenCalledWith(
      expect.objectContaining({ recipients: ["@karim:brug.example"], kind: "professional" }),
    );
  });
});

describe("NewConversation: attachments", () => {
  const file = (name: string) => new File(["x"], name, { type: "application/pdf" });

  it("shows n / 5 and refuses a sixth file with a message", async () => {
    const { user } = setup();
    const input = screen.getByTestId("attachment-input") as HTMLInputElement;
    expect(screen.getByTestId("attachment-counter")).toHaveTextContent("0 / 5");

    await user.upload(input, [file("a.pdf"), file("b.pdf"), file("c.pdf")]);
    expect(screen.getByTestId("attachment-counter")).toHaveTextContent("3 / 5");
    await user.upload(input, [file("d.pdf"), file("e.pdf")]);
    expect(screen.getByTestId("attachment-counter")).toHaveTextContent("5 / 5");
    expect(screen.queryByTestId("attachment-refused")).not.toBeInTheDocument();

    await user.upload(input, file("f.pdf"));
    expect(screen.getByTestId("attachment-counter")).toHaveTextContent("5 / 5");
    expect(screen.getByTestId("attachment-refused")).toHaveTextContent(
      "Hoogstens 5 bijlagen: f.pdf is niet toegevoegd.",
    );
    expect(screen.getAllByTestId("attachment-item").map((i) => i.textContent?.trim())).toEqual(
      expect.arrayContaining([expect.stringContaining("a.pdf"), expect.stringContaining("e.pdf")]),
    );
    expect(screen.queryByText("f.pdf")).not.toBeInTheDocument();

    // Removing one makes room again.
    await user.click(screen.getByRole("button", { name: "a.pdf verwijderen" }));
    expect(screen.getByTestId("attachment-counter")).toHaveTextContent("4 / 5");
    expect(screen.queryByTestId("attachment-refused")).not.toBeInTheDocument();
    await user.upload(input, [file("f.pdf"), file("g.pdf")]);
    expect(screen.getByTestId("attachment-counter")).toHaveTextContent("5 / 5");
    expect(screen.getByTestId("attachment-refused")).toHaveTextContent("g.pdf");
  });

  it("sends the chosen files' bytes, and keeps everything when Rust refuses", async () => {
    backend.commands.startConversation.mockResolvedValueOnce(err("send_failed", "homeserver said 500"));
    const { user, onstarted } = setup();
    await user.type(screen.getByTestId("subject-input"), "Wondfoto");
    await user.type(screen.getByTestId("body-input"), "Zie bijlage.");
    await user.click(checkbox("@bram:zorg.example"));
    await user.upload(screen.getByTestId("attachment-input") as HTMLInputElement, [
      new File(["jpg"], "wond.jpg", { type: "image/jpeg" }),
      new File([new Uint8Array([0, 255])], "meting"),
    ]);
    await user.click(screen.getByTestId("new-conversation-submit"));

    // Reading the files takes a moment (FileReader), so the call comes a little later.
    await vi.waitFor(() =>
      expect(backend.commands.startConversation).toHaveBeenCalledWith({
        spaceId: "!space",
        subject: "Wondfoto",
        body: "Zie bijlage.",
        recipients: ["@bram:zorg.example"],
        kind: "professional",
        attachments: [
          { filename: "wond.jpg", mime: "image/jpeg", data: [106, 112, 103] },
          { filename: "meting", mime: null, data: [0, 255] },
        ],
        sensitive: false,
      }),
    );
    expect(await screen.findByTestId("new-conversation-error")).toHaveTextContent(
      "Het bericht is niet verstuurd. Probeer het opnieuw.",
    );
    expect(screen.getByTestId("subject-input")).toHaveValue("Wondfoto");
    expect(screen.getByTestId("body-input")).toHaveValue("Zie bijlage.");
    expect(checkbox("@bram:zorg.example")).toBeChecked();
    expect(screen.getByTestId("attachment-counter")).toHaveTextContent("2 / 5");
    expect(screen.getAllByTestId("attachment-item")[0]).toHaveTextContent("wond.jpg");
    expect(onstarted).not.toHaveBeenCalled();

    // The same files go again on retry; after the start the draft is empty.
    await user.click(screen.getByTestId("new-conversation-submit"));
    await vi.waitFor(() => expect(onstarted).toHaveBeenCalled());
    expect(backend.commands.startConversation.mock.calls[1]![0].attachments).toHaveLength(2);
    expect(conversationDrafts.get("!space").attachments).toEqual([]);
  });

  it("keeps the chosen files in the draft when the form is closed", async () => {
    const { user, unmount } = setup();
    await user.upload(screen.getByTestId("attachment-input") as HTMLInputElement, file("verslag.pdf"));
    unmount();
    setup();
    expect(screen.getByTestId("attachment-counter")).toHaveTextContent("1 / 5");
    expect(screen.getByTestId("attachment-item")).toHaveTextContent("verslag.pdf");
    expect(conversationDrafts.get("!space").attachments[0]).toBeInstanceOf(File);
  });

  it("does not start the conversation when a file can no longer be read", async () => {
    const gone = file("verplaatst.pdf");
    Object.defineProperty(gone, "arrayBuffer", { value: () => Promise.reject(new Error("NotReadableError")) });
    const { user } = setup();
    await user.type(screen.getByTestId("subject-input"), "Verslag");
    await user.upload(screen.getByTestId("attachment-input") as HTMLInputElement, gone);
    await user.click(screen.getByTestId("new-conversation-submit"));
    expect(await screen.findByTestId("new-conversation-error")).toHaveTextContent(
      "Een bijlage kon niet worden gelezen. Voeg het bestand opnieuw toe.",
    );
    expect(backend.commands.startConversation).not.toHaveBeenCalled();
    expect(screen.getByTestId("subject-input")).toHaveValue("Verslag");
    expect(screen.getByTestId("attachment-item")).toHaveTextContent("verplaatst.pdf");
  });
});

describe("NewConversation: errors from Rust", () => {
  it.each([
    ["subject_missing", "Geef het gesprek een onderwerp."],
    ["recipients_missing", "Kies ten minste één ontvanger."],
    ["recipient_not_in_care_team", "Een ontvanger hoort niet bij het zorgteam van deze cliënt."],
    ["not_permitted", "Je rol in dit zorgteam staat dit niet toe."],
  ] as const)("shows %s as readable text and loses nothing typed", async (code, text) => {
    backend.commands.startConversation.mockResolvedValueOnce(err(code, "detail"));
    const { user } = setup();
    await user.type(screen.getByTestId("subject-input"), "Overdracht");
    await user.type(screen.getByTestId("body-input"), "Regel 1{Enter}Regel 2");
    await user.click(screen.getByTestId("new-conversation-submit"));
    expect(await screen.findByTestId("new-conversation-error")).toHaveTextContent(text);
    expect(screen.getByTestId("subject-input")).toHaveValue("Overdracht");
    expect(screen.getByTestId("body-input")).toHaveValue("Regel 1\nRegel 2");

    // Retrying after the fix removes the error.
    await user.click(checkbox("@sara:zorg.example"));
    await user.click(screen.getByTestId("new-conversation-submit"));
    await vi.waitFor(() => expect(screen.queryByTestId("new-conversation-error")).not.toBeInTheDocument());
  });

  it("starts a conversation as sensitive when ticked, and keeps the tick in the draft", async () => {
    const { user, unmount } = setup();
    await user.click(screen.getByTestId("sensitive-input"));
    unmount();
    const { user: again } = setup();
    expect(screen.getByTestId("sensitive-input")).toBeChecked();
    await again.click(checkbox("@sara:zorg.example"));
    await again.type(screen.getByTestId("subject-input"), "Vermoeden huiselijk geweld");
    await again.type(screen.getByTestId("body-input"), "Graag overleg.");
    await again.keyboard("{Control>}{Enter}{/Control}");
    expect(backend.commands.startConversation).toHaveBeenCalledWith(expect.objectContaining({ sensitive: true }));
  });

  it("keeps the draft per care team when the form is closed and opened again", async () => {
    const { user, unmount } = setup();
    await user.type(screen.getByTestId("subject-input"), "Half af");
    await user.click(checkbox("@sara:zorg.example"));
    unmount();
    setup();
    expect(screen.getByTestId("subject-input")).toHaveValue("Half af");
    expect(checkbox("@sara:zorg.example")).toBeChecked();
  });
});
