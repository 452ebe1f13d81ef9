import "@testing-library/jest-dom/vitest";
import { afterEach, beforeEach } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";

// Channels from @tauri-apps/api need window.__TAURI_INTERNALS__ to register their
// callback. The generated commands are mocked per test (see fakeBackend.ts); any
// invoke that still reaches the bridge is a test bug, so it fails loudly.
beforeEach(() => {
  mockIPC((cmd) => {
    throw new Error(`unexpected IPC call in a test: ${cmd}`);
  });
  localStorage.clear();
});

afterEach(() => {
  clearMocks();
});
