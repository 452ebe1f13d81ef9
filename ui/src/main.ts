import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";

async function start() {
  // Browser-only demo/test mode; the import is dropped from normal builds.
  if (import.meta.env.VITE_MOCK_IPC === "1") {
    const { installMockBackend } = await import("./mock/backend");
    installMockBackend();
  }
  const target = document.getElementById("app");
  if (!target) throw new Error("#app missing from index.html");
  return mount(App, { target });
}

void start();
