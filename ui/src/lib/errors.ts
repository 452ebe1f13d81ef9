import type { AppError } from "$lib/ipc";
import { tDynamic } from "$lib/i18n/index.svelte";

/** Readable text (current language) for an error from Rust; unknown codes get a generic text. */
export function errorText(error: AppError): string {
  return tDynamic(`errors.${error.code}`, "errors.unknown");
}

/** Errors after which the user has to sign in again. */
export function isSessionError(error: AppError): boolean {
  return error.code === "not_logged_in" || error.code === "session_lost";
}
