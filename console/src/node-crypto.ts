/** `node:crypto` as the typed client uses it, from the browser's Web Crypto (secure contexts: https, localhost). */
export function randomUUID(): string {
  return globalThis.crypto.randomUUID();
}
