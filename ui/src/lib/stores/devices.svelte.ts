import { ipc, type AppError, type DeviceTrust, type VerificationStep } from "$lib/ipc";
import { LatestStream } from "./stream.svelte";

/** What needs the person's attention about this device, for the banner. */
export type DeviceAttention = "none" | "unverified" | "noRecovery";

export function attentionOf(trust: DeviceTrust | null): DeviceAttention {
  if (!trust || trust.recovery === "unknown") return "none";
  if (trust.recovery === "disabled") return "noRecovery";
  // Set up elsewhere, but this device lacks the keys: it would show blanks.
  if (trust.recovery === "incomplete" || !trust.verified) return "unverified";
  return "none";
}

/** This device's trust and the verification requests of the person's other devices. */
export class DevicesStore {
  trust = $state.raw<DeviceTrust | null>(null);
  /** A request from another device of this person, until it is handled or dismissed. */
  incoming = $state.raw<Extract<VerificationStep, { step: "requested" }> | null>(null);
  #requests = new LatestStream<VerificationStep>();

  get attention(): DeviceAttention {
    return attentionOf(this.trust);
  }

  async refresh(): Promise<void> {
    const res = await ipc.deviceTrust();
    if (res.status === "ok") this.trust = res.data;
  }

  /**
   * After a verification: the secrets arrive from the other device a moment
   * later (gossip). Ask again every `everyMs` until this device is trusted,
   * at most `times` times; `onChange` hears each answer (e.g. to reload a list).
   */
  async settle(everyMs = 1000, times = 60, onChange?: () => void): Promise<void> {
    for (let i = 0; i < times && this.attention !== "none"; i++) {
      await new Promise((r) => setTimeout(r, everyMs));
      await this.refresh();
      onChange?.();
    }
  }

  set(trust: DeviceTrust): void {
    this.trust = trust;
  }

  async start(onError?: (e: AppError) => void): Promise<void> {
    void this.refresh();
    await this.#requests.open(
      (on) => ipc.watchVerificationRequests(on),
      (step) => {
        if (step.step === "requested") this.incoming = step;
      },
      onError,
    );
  }

  dismiss(): void {
    this.incoming = null;
  }

  async stop(): Promise<void> {
    this.incoming = null;
    this.trust = null;
    await this.#requests.close();
  }
}

export const devices = new DevicesStore();
