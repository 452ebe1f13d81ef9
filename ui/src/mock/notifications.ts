// Notifications: this device's settings, each conversation's mode, and the
// stream of clicked desktop notifications (the demo's "/melding" clicks one).
import type { NotificationMode, NotificationSettings } from "$lib/ipc";
import { type AnyChannel, type Commands, type Mock, fail } from "./core";

/** The stream kind of clicked notifications; a message pushed on it is a room id. */
export const ACTIVATIONS = "activations";

const MODES: readonly NotificationMode[] = ["all", "mentionsAndUrgent", "mute"];

export function notificationCommands(mock: Mock): Commands {
  // Rust's defaults: no message text on a lock screen; urgent repeated 3 times, every 2 minutes.
  let settings: NotificationSettings = { showMessageText: false, repeatAfterSeconds: 120, repeatCount: 3 };
  const modes = new Map<string, NotificationMode>([["!wijk", "mute"]]);

  return {
    notification_settings: () => {
      mock.requireSession();
      return settings;
    },
    set_notification_settings: (args) => {
      mock.requireSession();
      const next = args.settings as NotificationSettings;
      if (!Number.isInteger(next.repeatAfterSeconds) || next.repeatAfterSeconds < 60) {
        fail("internal", `repeatAfterSeconds ${next.repeatAfterSeconds}`);
      }
      settings = { ...next };
      return null;
    },
    conversation_notification_mode: (args) => {
      mock.requireSession();
      return modes.get(args.roomId as string) ?? "all";
    },
    set_conversation_notification_mode: (args) => {
      mock.requireSession();
      const mode = args.mode as NotificationMode;
      if (!MODES.includes(mode)) fail("internal", `unknown mode ${mode}`);
      modes.set(args.roomId as string, mode);
      return null;
    },
    watch_notification_activations: (args) => {
      mock.requireSession();
      return mock.open(ACTIVATIONS, args.onUpdate as AnyChannel);
    },
  };
}
