import { describe, expect, it } from "vitest";
import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import AttachmentTray from "$lib/components/AttachmentTray.svelte";

const file = (name: string, size = 1) => new File(["x".repeat(size)], name, { type: "application/pdf" });

function setup(files: File[] = []) {
  const user = userEvent.setup();
  render(AttachmentTray, { files });
  const input = screen.getByTestId("attachment-input") as HTMLInputElement;
  const names = () => screen.queryAllByTestId("attachment-item").map((i) => i.querySelector(".file-name")?.textContent);
  return { user, input, names };
}

describe("AttachmentTray", () => {
  it("opens the file picker from a labelled button and picks several files at once", async () => {
    const { user, input, names } = setup();
    expect(input).toHaveAttribute("multiple");
    expect(screen.getByTestId("attachment-add")).toHaveAccessibleName("Bijlage toevoegen");
    expect(screen.getByTestId("attachment-add")).toHaveAccessibleDescription("0 van de 5 bijlagen");
    let opened = false;
    input.addEventListener("click", () => (opened = true));
    await user.click(screen.getByTestId("attachment-add"));
    expect(opened).toBe(true);

    await user.upload(input, [file("a.pdf"), file("b.pdf")]);
    expect(names()).toEqual(["a.pdf", "b.pdf"]);
    expect(screen.getByTestId("attachment-counter")).toHaveTextContent("2 / 5");
    expect(screen.getByTestId("attachment-add")).toHaveAccessibleDescription("2 van de 5 bijlagen");
  });

  it("shows each file's size the way people read it", async () => {
    const { user, input } = setup();
    await user.upload(input, [file("klein.txt", 512), file("groter.pdf", 12_345), file("scan.pdf", 1_400_000)]);
    const [small, bigger, scan] = screen.getAllByTestId("attachment-item");
    expect(small).toHaveTextContent("512 B");
    expect(bigger).toHaveTextContent("12 kB");
    expect(scan).toHaveTextContent("1,4 MB");
  });

  it("stops at 5 and names the one file it refused", async () => {
    const { user, input, names } = setup();
    await user.upload(input, ["1", "2", "3", "4"].map((n) => file(`${n}.pdf`)));
    await user.upload(input, [file("5.pdf"), file("6.pdf")]);
    expect(names()).toEqual(["1.pdf", "2.pdf", "3.pdf", "4.pdf", "5.pdf"]);
    expect(screen.getByTestId("attachment-counter")).toHaveTextContent("5 / 5");
    const refused = screen.getByTestId("attachment-refused");
    expect(refused).toHaveAttribute("role", "alert");
    expect(refused).toHaveTextContent("Hoogstens 5 bijlagen: 6.pdf is niet toegevoegd.");
  });

  it("names every refused file when several do not fit", async () => {
    const { user, input, names } = setup([file("1.pdf"), file("2.pdf"), file("3.pdf"), file("4.pdf")]);
    await user.upload(input, [file("5.pdf"), file("6.pdf"), file("7.pdf")]);
    expect(names()).toHaveLength(5);
    expect(screen.getByTestId("attachment-refused")).toHaveTextContent(
      "Hoogstens 5 bijlagen: 2 bestanden zijn niet toegevoegd (6.pdf, 7.pdf).",
    );
  });

  it("removes a file, makes room again and keeps the keyboard focus in the tray", async () => {
    const { user, input, names } = setup();
    await user.upload(input, ["a", "b", "c", "d", "e", "f"].map((n) => file(`${n}.pdf`)));
    expect(screen.getByTestId("attachment-refused")).toHaveTextContent("f.pdf");
    await user.click(screen.getByRole("button", { name: "b.pdf verwijderen" }));
    expect(names()).toEqual(["a.pdf", "c.pdf", "d.pdf", "e.pdf"]);
    expect(screen.queryByTestId("attachment-refused")).toBeNull();
    expect(screen.getByTestId("attachment-add")).toHaveFocus();
    // The same file can be picked again after it was removed.
    await user.upload(input, file("b.pdf"));
    expect(names()).toEqual(["a.pdf", "c.pdf", "d.pdf", "e.pdf", "b.pdf"]);
  });
});
