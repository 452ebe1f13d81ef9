/// <reference types="svelte" />
/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** "1" installs the in-memory mock backend (src/mock/backend.ts) instead of talking to Rust. */
  readonly VITE_MOCK_IPC?: string;
}
