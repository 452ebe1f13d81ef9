// The whole app against the fake backend, for the App*.test.ts files. Each
// file still mocks the bindings itself (vi.mock holds for one test file only):
//   vi.mock("$lib/ipc/bindings", () => import("../../test/fakeBackend").then((m) => m.bindingsModule));
import { expect, vi } from "vitest";
import { render, screen } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import App from "../App.svelte";
import { session } from "$lib/stores/session.svelte";
import { aSession, backend, ok } from "./fakeBackend";

/** For `beforeEach`: the stores are app-wide singletons, so start every test as a fresh app would. */
export function resetApp(): void {
  backend.reset();
  session.phase = "restoring";
  session.info = null;
  session.notice = null;
}

/** Renders the app with a stored session: signed in, the room list's stream open. */
export async function startSignedIn() {
  backend.commands.restoreSession.mockResolvedValueOnce(ok(aSession));
  const user = userEvent.setup();
  const view = render(App);
  await screen.findByTestId("main-view");
  await vi.waitFor(() => expect(backend.channels.rooms).toHaveLength(1));
  return Object.assign(user, { unmount: view.unmount });
}
