// The app lock (issue 15) in the app: idle time from Kring, the lock screen
// covering everything, a wrong PIN, the hold after too many, the composer's
// text kept, the PIN set in the devices panel, and the banner without a PIN.
import { beforeEach, describe, expect, it, vi } from "vitest";
import { screen } from "@testing-library/svelte";

vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));

import { backend, err, lockState, ok } from "../../test/fakeBackend";
import { resetApp, startSignedIn } from "../../test/app";
import { appLock } from "$lib/stores/appLock.svelte";

beforeEach(() => {
  resetApp();
  appLock.stop();
  appLock.state = null;
  appLock.error = null;
});

describe("the app lock", () => {
  it("asks for a PIN where the organisation wants a lock and none is set", async () => {
    backend.commands.appLockState.mockResolvedValue(ok(lockState()));
    const user = await startSignedIn();
    await user.click(await screen.findByTestId("app-lock-banner-open"));
    await user.type(await screen.findByTestId("app-lock-pin"), "48291");
    await user.type(screen.getByTestId("app-lock-pin-again"), "48290");
    await user.click(screen.getByTestId("app-lock-save"));
    expect(await screen.findByTestId("app-lock-mismatch")).toBeInTheDocument();
    expect(backend.commands.setAppLockPin).not.toHaveBeenCalled();
    await user.clear(screen.getByTestId("app-lock-pin-again"));
    await user.type(screen.getByTestId("app-lock-pin-again"), "48291");
    await user.click(screen.getByTestId("app-lock-save"));
    expect(backend.commands.setAppLockPin).toHaveBeenCalledWith("48291");
    expect(await screen.findByTestId("app-lock-saved")).toBeInTheDocument();
    await user.click(screen.getByTestId("devices-close"));
    expect(screen.queryByTestId("app-lock-banner")).not.toBeInTheDocument();
  });

  it("locks after the idle time, refuses a wrong PIN, then holds, and unlocks with the right one", async () => {
    backend.commands.appLockState.mockResolvedValue(ok(lockState({ pinSet: true, idleSeconds: 1 })));
    const user = await startSignedIn();
    await vi.waitFor(() => expect(backend.commands.lockApp).toHaveBeenCalled(), { timeout: 4000 });
    const lock = await screen.findByTestId("lock-screen");
    expect(lock).toHaveTextContent("Kring is vergrendeld");
    expect(screen.getByTestId("main-view").closest(".app.hidden[aria-hidden=\"true\"]")).not.toBeNull();

    backend.commands.unlockApp.mockResolvedValueOnce(err("app_lock_pin_wrong", "wrong PIN; 2 tries left"));
    backend.commands.appLockState.mockResolvedValue(ok(lockState({ pinSet: true, locked: true, attemptsLeft: 2 })));
    await user.type(screen.getByTestId("lock-pin"), "11111");
    await user.click(screen.getByTestId("lock-unlock"));
    expect(await screen.findByTestId("lock-error")).toHaveTextContent("Die pincode klopt niet. Nog 2 pogingen.");

    backend.commands.unlockApp.mockResolvedValueOnce(err("app_lock_held", "try again in 60 s"));
    backend.commands.appLockState.mockResolvedValue(
      ok(lockState({ pinSet: true, locked: true, attemptsLeft: 3, retryInSeconds: 60 })),
    );
    await user.type(screen.getByTestId("lock-pin"), "22222");
    await user.click(screen.getByTestId("lock-unlock"));
    expect(await screen.findByTestId("lock-held")).toHaveTextContent("Probeer het over 60 seconden opnieuw");
    expect(screen.getByTestId("lock-pin")).toBeDisabled();

    backend.commands.appLockState.mockResolvedValue(ok(lockState({ pinSet: true, locked: true })));
    await appLock.refresh();
    backend.commands.unlockApp.mockResolvedValueOnce(ok(lockState({ pinSet: true, idleSeconds: 300 })));
    await user.type(await screen.findByTestId("lock-pin"), "48291");
    await user.click(screen.getByTestId("lock-unlock"));
    expect(backend.commands.unlockApp).toHaveBeenLastCalledWith("48291");
    await vi.waitFor(() => expect(screen.queryByTestId("lock-screen")).not.toBeInTheDocument());
    expect(screen.getByTestId("main-view").closest(".app.hidden")).toBeNull();
  });

  it("offers the computer's own check where Kring does, says when it cannot, and unlocks when it confirms", async () => {
    backend.commands.appLockState.mockResolvedValue(ok(lockState({ pinSet: true, locked: true, osUnlock: true })));
    const user = await startSignedIn();
    await user.click(await screen.findByTestId("lock-unlock-os"));
    expect(backend.commands.unlockAppWithOs).toHaveBeenCalledWith("Bevestig dat jij het bent om Kring te ontgrendelen.");
    await vi.waitFor(() => expect(screen.queryByTestId("lock-screen")).not.toBeInTheDocument());

    // Locked again on a device without polkit: the text says to use the PIN, and the button goes.
    appLock.state = lockState({ pinSet: true, locked: true, osUnlock: true });
    backend.commands.unlockAppWithOs.mockResolvedValueOnce(err("app_lock_os_unavailable", "no polkit"));
    backend.commands.appLockState.mockResolvedValue(ok(lockState({ pinSet: true, locked: true, osUnlock: false })));
    await user.click(await screen.findByTestId("lock-unlock-os"));
    expect(await screen.findByTestId("lock-error")).toHaveTextContent("Gebruik je pincode");
    await vi.waitFor(() => expect(screen.queryByTestId("lock-unlock-os")).not.toBeInTheDocument());
    expect(screen.getByTestId("lock-pin")).toBeEnabled();
  });

  it("without the organisation's consent there is no computer check, only the PIN", async () => {
    backend.commands.appLockState.mockResolvedValue(ok(lockState({ pinSet: true, locked: true })));
    await startSignedIn();
    expect(await screen.findByTestId("lock-pin")).toBeInTheDocument();
    expect(screen.queryByTestId("lock-unlock-os")).not.toBeInTheDocument();
  });

  it("starts locked when Kring says so (a restart with a PIN set)", async () => {
    backend.commands.appLockState.mockResolvedValue(ok(lockState({ pinSet: true, locked: true })));
    await startSignedIn();
    expect(await screen.findByTestId("lock-screen")).toBeInTheDocument();
  });

  it("does not lock without a PIN", async () => {
    backend.commands.appLockState.mockResolvedValue(ok(lockState({ idleSeconds: 1 })));
    await startSignedIn();
    await new Promise((r) => setTimeout(r, 2500));
    expect(backend.commands.lockApp).not.toHaveBeenCalled();
    expect(screen.queryByTestId("lock-screen")).not.toBeInTheDocument();
  });
});
