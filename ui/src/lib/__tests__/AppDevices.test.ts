// Every device of a person (issue 13) in the app: the banner of an unverified
// device, verifying it with another device's emoji or the recovery key,
// setting up recovery once, a request from a new device, signing a lost
// device out, and a device that was signed out elsewhere.
import { beforeEach, describe, expect, it, vi } from "vitest";
import { screen, within } from "@testing-library/svelte";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import type { OwnDevice, VerificationEmoji } from "$lib/ipc";
import { session } from "$lib/stores/session.svelte";
import { SAS_EMOJI_COUNT } from "$lib/sasEmoji";
import { backend, err, ok, verifiedDevice } from "../../test/fakeBackend";
import { resetApp, startSignedIn } from "../../test/app";

beforeEach(resetApp);

const unverified = { recovery: "incomplete", verified: false, backupEnabled: false } as const;
const noRecovery = { recovery: "disabled", verified: true, backupEnabled: false } as const;
const KEY = "EsTj 3yST y93F SLpB jJsz eAXc 6ZLN hmMF 4LdH Sx8i gjg4 nf8H";
const EMOJIS: VerificationEmoji[] = [
  { symbol: "🐶", description: "Dog" },
  { symbol: "🔑", description: "Key" },
  { symbol: "🌵", description: "Cactus" },
  { symbol: "🚲", description: "Bicycle" },
  { symbol: "🎁", description: "Gift" },
  { symbol: "⚓", description: "Anchor" },
  { symbol: "👍", description: "Thumbs Up" },
];

function device(deviceId: string, extra: Partial<OwnDevice> = {}): OwnDevice {
  return { deviceId, displayName: "Kring", lastSeenMs: Date.UTC(2026, 11, 1, 9), thisDevice: false, verified: true, ...extra };
}

async function openPanel(user: Awaited<ReturnType<typeof startSignedIn>>) {
  await user.click(screen.getByTestId("devices-toggle"));
  return screen.findByTestId("devices-panel");
}

describe("an unverified device", () => {
  it("says so in a banner that opens the way to fix it", async () => {
    backend.commands.deviceTrust.mockResolvedValue(ok(unverified));
    const user = await startSignedIn();
    const banner = await screen.findByTestId("device-banner");
    expect(banner).toHaveTextContent("Dit apparaat is nog niet geverifieerd");
    await user.click(within(banner).getByRole("button", { name: "Nu regelen" }));
    const panel = await screen.findByTestId("devices-panel");
    expect(within(panel).getByTestId("device-status")).toHaveAttribute("data-status", "unverified");
    expect(within(panel).getByTestId("verify-with-device")).toBeInTheDocument();
    expect(within(panel).getByTestId("verify-with-key")).toBeInTheDocument();
  });

  it("shows no banner when the device is verified", async () => {
    await startSignedIn();
    await vi.waitFor(() => expect(backend.commands.deviceTrust).toHaveBeenCalled());
    expect(screen.queryByTestId("device-banner")).toBeNull();
  });

  it("is verified by another device's emoji, named in Dutch, after both confirm", async () => {
    backend.commands.deviceTrust.mockResolvedValue(ok(unverified));
    const user = await startSignedIn();
    const panel = await openPanel(user);
    await user.click(await within(panel).findByTestId("verify-with-device"));
    await vi.waitFor(() => expect(backend.commands.verifyThisDevice).toHaveBeenCalled());
    backend.pushVerification({ step: "waiting", flowId: "f1" });
    expect(await within(panel).findByText(/accepteer daar het verzoek/)).toBeInTheDocument();
    backend.pushVerification({ step: "compare", flowId: "f1", emojis: EMOJIS, decimals: [1, 2, 3] });
    const list = await within(panel).findByTestId("verification-emojis");
    expect(within(list).getAllByRole("listitem").map((li) => li.textContent)).toEqual([
      "🐶Hond", "🔑Sleutel", "🌵Cactus", "🚲Fiets", "🎁Cadeau", "⚓Anker", "👍Duim omhoog",
    ]);
    await user.click(within(panel).getByTestId("verification-match"));
    expect(backend.commands.confirmVerification).toHaveBeenCalledWith("f1", true);
    backend.commands.deviceTrust.mockResolvedValue(ok(verifiedDevice));
    backend.pushVerification({ step: "done", flowId: "f1" });
    await vi.waitFor(() => expect(within(panel).getByTestId("device-status")).toHaveAttribute("data-status", "verified"));
    await vi.waitFor(() => expect(screen.queryByTestId("device-banner")).toBeNull());
  });

  it("says the emoji did not match when the person says so, and nothing is verified", async () => {
    backend.commands.deviceTrust.mockResolvedValue(ok(unverified));
    const user = await startSignedIn();
    const panel = await openPanel(user);
    await user.click(await within(panel).findByTestId("verify-with-device"));
    await vi.waitFor(() => expect(backend.channels.verification).toHaveLength(1));
    backend.pushVerification({ step: "compare", flowId: "f2", emojis: EMOJIS, decimals: [1, 2, 3] });
    await user.click(await within(panel).findByTestId("verification-mismatch"));
    expect(backend.commands.confirmVerification).toHaveBeenCalledWith("f2", false);
    backend.pushVerification({ step: "cancelled", flowId: "f2", reason: "The SAS did not match.", byThisDevice: true, mismatch: true });
    expect(await within(panel).findByTestId("verification-cancelled")).toHaveTextContent("kwamen niet overeen");
    expect(within(panel).getByTestId("device-status")).toHaveAttribute("data-status", "unverified");
    // Back to the two ways of verifying, to start again.
    await user.click(await within(panel).findByTestId("verification-back"));
    expect(within(panel).getByTestId("verify-with-device")).toBeInTheDocument();
  });

  it("stops a verification with Stoppen and says nothing was changed", async () => {
    backend.commands.deviceTrust.mockResolvedValue(ok(unverified));
    const user = await startSignedIn();
    const panel = await openPanel(user);
    await user.click(await within(panel).findByTestId("verify-with-device"));
    await vi.waitFor(() => expect(backend.channels.verification).toHaveLength(1));
    backend.pushVerification({ step: "compare", flowId: "f3", emojis: EMOJIS, decimals: [1, 2, 3] });
    await user.click(await within(panel).findByTestId("verification-stop"));
    expect(backend.commands.cancelVerification).toHaveBeenCalledWith("f3");
    backend.pushVerification({ step: "cancelled", flowId: "f3", reason: "The user cancelled the verification.", byThisDevice: true, mismatch: false });
    expect(await within(panel).findByTestId("verification-cancelled")).toHaveTextContent("De verificatie is gestopt. Er is niets veranderd.");
    expect(within(panel).getByTestId("verification-back")).toBeInTheDocument();
  });

  it("keeps a wrong recovery key in the field with a readable error, then takes the right one", async () => {
    backend.commands.deviceTrust.mockResolvedValue(ok(unverified));
    backend.commands.recover.mockResolvedValueOnce(err("recovery_key_wrong", "mac"));
    const user = await startSignedIn();
    const panel = await openPanel(user);
    await user.click(await within(panel).findByTestId("verify-with-key"));
    const field = within(panel).getByTestId("recovery-key-input");
    await user.type(field, "EsTj 3yST fout");
    await user.click(within(panel).getByTestId("recover"));
    expect(await within(panel).findByTestId("recover-error")).toHaveTextContent("past niet bij dit account");
    expect(field).toHaveValue("EsTj 3yST fout");
    backend.commands.recover.mockResolvedValueOnce(ok(verifiedDevice));
    await user.clear(field);
    await user.type(field, KEY);
    await user.click(within(panel).getByTestId("recover"));
    expect(backend.commands.recover).toHaveBeenLastCalledWith(KEY);
    await vi.waitFor(() => expect(within(panel).getByTestId("device-status")).toHaveAttribute("data-status", "verified"));
  });
});

describe("setting up recovery", () => {
  it("shows the key once, offers copy, file and print, and closes only after the last four characters", async () => {
    backend.commands.deviceTrust.mockResolvedValue(ok(noRecovery));
    backend.commands.enableRecovery.mockResolvedValueOnce(ok(KEY));
    const user = await startSignedIn();
    expect(await screen.findByTestId("device-banner")).toHaveTextContent("Stel herstel in");
    const panel = await openPanel(user);
    await user.click(await within(panel).findByTestId("recovery-setup"));
    expect(await within(panel).findByTestId("recovery-key")).toHaveTextContent(KEY);
    for (const id of ["recovery-key-copy", "recovery-key-save", "recovery-key-print"]) {
      expect(within(panel).getByTestId(id)).toBeInTheDocument();
    }
    await user.type(within(panel).getByTestId("recovery-key-check"), "abcd");
    await user.click(within(panel).getByTestId("recovery-key-done"));
    expect(within(panel).getByTestId("recovery-key-check-wrong")).toBeInTheDocument();
    expect(within(panel).getByTestId("recovery-key")).toBeInTheDocument();
    backend.commands.deviceTrust.mockResolvedValue(ok(verifiedDevice));
    await user.clear(within(panel).getByTestId("recovery-key-check"));
    await user.type(within(panel).getByTestId("recovery-key-check"), "NF8H");
    await user.click(within(panel).getByTestId("recovery-key-done"));
    await vi.waitFor(() => expect(within(panel).queryByTestId("recovery-key")).toBeNull());
    await vi.waitFor(() => expect(within(panel).getByTestId("device-status")).toHaveAttribute("data-status", "verified"));
  });

  it("says why when setting up fails, and offers it again", async () => {
    backend.commands.deviceTrust.mockResolvedValue(ok(noRecovery));
    backend.commands.enableRecovery.mockResolvedValueOnce(err("homeserver_unreachable", "refused"));
    const user = await startSignedIn();
    const panel = await openPanel(user);
    await user.click(await within(panel).findByTestId("recovery-setup"));
    expect(await within(panel).findByTestId("recovery-setup-error")).toHaveTextContent("niet bereikbaar");
    expect(within(panel).getByTestId("recovery-setup")).toBeEnabled();
  });
});

describe("a request from a new device", () => {
  it("shows who asks, and accepting runs the emoji comparison on this device", async () => {
    const user = await startSignedIn();
    await vi.waitFor(() => expect(backend.channels.verificationRequests).toHaveLength(1));
    backend.pushVerificationRequest({ step: "requested", flowId: "f9", deviceId: "NEWPHONE", displayName: "Kring (telefoon)" });
    const banner = await screen.findByTestId("device-banner");
    expect(banner).toHaveAttribute("data-attention", "request");
    await user.click(within(banner).getByRole("button", { name: "Bekijken" }));
    const request = await screen.findByTestId("verification-request");
    expect(request).toHaveTextContent("„Kring (telefoon)” vraagt om verificatie");
    await user.click(within(request).getByTestId("verification-accept"));
    await vi.waitFor(() => expect(backend.commands.acceptVerification).toHaveBeenCalledWith("f9", expect.anything()));
    backend.pushVerification({ step: "compare", flowId: "f9", emojis: EMOJIS, decimals: [1, 2, 3] });
    await user.click(await screen.findByTestId("verification-match"));
    expect(backend.commands.confirmVerification).toHaveBeenCalledWith("f9", true);
  });
});

describe("the device list", () => {
  it("lists this device first and signs a lost one out with the password, keeping the password on failure", async () => {
    backend.commands.ownDevices.mockResolvedValue(
      ok([device("DESK", { thisDevice: true }), device("PHONE", { displayName: "Kring (telefoon)", verified: false })]),
    );
    backend.commands.signOutDevice.mockResolvedValueOnce(err("wrong_credentials", "uia"));
    const user = await startSignedIn();
    const panel = await openPanel(user);
    const items = await within(panel).findAllByTestId("device-item");
    expect(items.map((i) => i.dataset.deviceId)).toEqual(["DESK", "PHONE"]);
    expect(within(items[0]!).queryByTestId("device-sign-out")).toBeNull();
    expect(items[1]).toHaveTextContent("Niet geverifieerd");
    await user.click(within(items[1]!).getByTestId("device-sign-out"));
    const form = within(panel).getByTestId("sign-out-form");
    expect(form).toHaveTextContent("„Kring (telefoon)” afmelden?");
    await user.type(within(form).getByTestId("sign-out-password"), "geheim");
    await user.click(within(form).getByTestId("sign-out-confirm"));
    expect(backend.commands.signOutDevice).toHaveBeenCalledWith("PHONE", "geheim");
    expect(await within(panel).findByTestId("sign-out-error")).toBeInTheDocument();
    expect(within(form).getByTestId("sign-out-password")).toHaveValue("geheim");
    backend.commands.ownDevices.mockResolvedValue(ok([device("DESK", { thisDevice: true })]));
    await user.click(within(form).getByTestId("sign-out-confirm"));
    await vi.waitFor(() => expect(within(panel).getAllByTestId("device-item")).toHaveLength(1));
  });

  it("asks the browser to confirm (no password) for accounts that sign in through the organisation", async () => {
    backend.commands.ownDevices.mockResolvedValue(ok([device("DESK", { thisDevice: true }), device("PHONE")]));
    const user = await startSignedIn();
    const panel = await openPanel(user);
    const items = await within(panel).findAllByTestId("device-item");
    await user.click(within(items[1]!).getByTestId("device-sign-out"));
    await user.click(within(panel).getByTestId("sign-out-confirm"));
    expect(backend.commands.signOutDevice).toHaveBeenCalledWith("PHONE", null);
  });
});

describe("signed out elsewhere", () => {
  it("returns to the login with the reason when Rust reports signedOut", async () => {
    await startSignedIn();
    await vi.waitFor(() => expect(backend.channels.sync).toHaveLength(1));
    backend.pushSync("signedOut");
    expect(await screen.findByTestId("login-error")).toHaveTextContent("op een ander apparaat beëindigd");
    expect(session.phase).toBe("loggedOut");
    expect(backend.commands.logout).toHaveBeenCalled();
  });
});

it("names all 64 emoji of the spec in Dutch", () => {
  expect(SAS_EMOJI_COUNT).toBe(64);
});
