import "@testing-library/jest-dom/vitest";
import { afterEach, beforeEach } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";

// Channels from @tauri-apps/api need window.__TAURI_INTERNALS__ to register their
// callback. The generated commands are mocked per test (see fakeBackend.ts); any
// invoke that still reaches the bridge is a test bug, so it fails loudly.
// jsdom's Blob has no arrayBuffer() (every webview Kring runs in has); the UI
// reads picked files with it, so tests get it through jsdom's FileReader.
if (typeof Blob.prototype.arrayBuffer !== "function") {
  Blob.prototype.arrayBuffer = function arrayBuffer(this: Blob): Promise<ArrayBuffer> {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result as ArrayBuffer);
      reader.onerror = () => reject(reader.error);
      reader.readAsArrayBuffer(this);
    });
  };
}

beforeEach(() => {
  mockIPC((cmd) => {
    throw new Error(`unexpected IPC call in a test: ${cmd}`);
  });
  localStorage.clear();
});

afterEach(() => {
  clearMocks();
});
