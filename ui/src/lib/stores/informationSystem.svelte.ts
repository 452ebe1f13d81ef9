// The organisation's information system (ECD) that conversations archive to,
// from this installation's configuration: asked once and shared by every
// component that offers archiving. A failed read is not kept, so the next
// component to mount asks again.
import { ipc } from "$lib/ipc";

const state = $state<{ url: string | null }>({ url: null });
let asked: Promise<void> | null = null;

export const informationSystem = {
  /** The ECD's FHIR base, or null where this installation names none (or not known yet). */
  get url(): string | null {
    return state.url;
  },
  /** Reads the configuration unless it was read already. */
  load(): Promise<void> {
    asked ??= ipc.informationSystem().then((res) => {
      if (res.status === "ok") state.url = res.data;
      else asked = null;
    });
    return asked;
  },
  /** Forgets what was read (tests, which change the configuration between cases). */
  forget(): void {
    asked = null;
    state.url = null;
  },
};
