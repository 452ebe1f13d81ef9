// Every device of a person, in the browser demo: this device starts
// unverified (the banner shows), the account has a verified laptop and an
// old phone. "Verifiëren met een ander apparaat" shows seven emoji 1.5 s
// later and finishes when they are confirmed; the recovery key "fout" is
// refused; any other key verifies. Signing out a device needs a password
// ("fout" is refused) or none (the browser confirmation, 1 s).
import type { DeviceTrust, OwnDevice, VerificationStep } from "$lib/ipc";
import { type AnyChannel, type Commands, DAY, type Mock, MIN, fail, now, sleep } from "./core";

const STEPS = "verification";
const EMOJIS = [
  ["🐶", "Dog"], ["🔑", "Key"], ["🌵", "Cactus"], ["🚲", "Bicycle"], ["🎁", "Gift"], ["⚓", "Anchor"], ["🍕", "Pizza"],
].map(([symbol, description]) => ({ symbol: symbol!, description: description! }));

export function deviceCommands(mock: Mock): Commands {
  let trust: DeviceTrust = { recovery: "incomplete", verified: false, backupEnabled: false };
  let list: OwnDevice[] = [
    { deviceId: "KRINGDEMO", displayName: "Kring", lastSeenMs: now, thisDevice: true, verified: false },
    { deviceId: "LAPTOP1", displayName: "Kring (spreekkamer)", lastSeenMs: now - 20 * MIN, thisDevice: false, verified: true },
    { deviceId: "PHONE9", displayName: "Kring (telefoon)", lastSeenMs: now - 40 * DAY, thisDevice: false, verified: true },
  ];
  const verified = () => {
    trust = { recovery: "enabled", verified: true, backupEnabled: true };
    list = list.map((d) => (d.thisDevice ? { ...d, verified: true } : d));
  };
  const push = (step: VerificationStep) => mock.push(STEPS, step);

  return {
    device_trust: () => {
      mock.requireSession();
      return trust;
    },
    enable_recovery: () => {
      mock.requireSession();
      if (trust.recovery !== "disabled") fail("recovery_already_set_up", "demo");
      trust = { recovery: "enabled", verified: true, backupEnabled: true };
      return "EsTj 3yST y93F SLpB jJsz eAXc 6ZLN hmMF 4LdH Sx8i gjg4 nf8H";
    },
    recover: async (args) => {
      mock.requireSession();
      await sleep(600);
      if (String(args.recoveryKey).trim().toLowerCase() === "fout") fail("recovery_key_wrong", "demo");
      verified();
      return trust;
    },
    own_devices: () => {
      mock.requireSession();
      return list;
    },
    sign_out_device: async (args) => {
      mock.requireSession();
      if (args.password === "fout") fail("wrong_credentials", "demo");
      if (args.password === null) await sleep(1000);
      if (!list.some((d) => d.deviceId === args.deviceId && !d.thisDevice)) fail("unknown_device", "demo");
      list = list.filter((d) => d.deviceId !== args.deviceId);
      return null;
    },
    verify_this_device: (args) => {
      mock.requireSession();
      const id = mock.open(STEPS, args.onUpdate as AnyChannel);
      const flowId = `flow-${mock.nextId()}`;
      setTimeout(() => push({ step: "waiting", flowId }), 50);
      setTimeout(() => push({ step: "compare", flowId, emojis: EMOJIS, decimals: [1234, 5678, 910] }), 1500);
      return id;
    },
    watch_verification_requests: (args) => {
      mock.requireSession();
      return mock.open("verification-requests", args.onUpdate as AnyChannel);
    },
    accept_verification: () => fail("verification_failed", "no request in the demo"),
    confirm_verification: async (args) => {
      mock.requireSession();
      const flowId = args.flowId as string;
      if (!args.emojisMatch) {
        push({ step: "cancelled", flowId, reason: "The SAS did not match.", byThisDevice: true, mismatch: true });
        return null;
      }
      push({ step: "confirmed", flowId });
      await sleep(800);
      verified();
      push({ step: "done", flowId });
      return null;
    },
    cancel_verification: (args) => {
      push({ step: "cancelled", flowId: args.flowId as string, reason: "The user cancelled the verification.", byThisDevice: true, mismatch: false });
      return null;
    },
  };
}
