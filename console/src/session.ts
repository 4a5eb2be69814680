import { EventBusError } from '../../client/errors';
import { EventBusClient } from '../../client/event-bus-client';

const KEY_ITEM = 'eventbus.key';

/** The key the person entered: this tab's session storage only, never a URL, a cookie or a log. */
export function storedKey(): string {
  return sessionStorage.getItem(KEY_ITEM) ?? '';
}

export function storeKey(key: string): void {
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  else sessionStorage.removeItem(KEY_ITEM);
}

/** A client of the bus that served this page, sending the key as `Authorization: Bearer`. */
export function busClient(key: string): EventBusClient {
  // One attempt and a short wait: a person is looking, and a retry would hide what went wrong.
  return new EventBusClient({
    url: location.origin,
    key,
    // A browser's fetch must be called on the window: the client would call it as its own method.
    fetch: (input, init) => globalThis.fetch(input, init),
    retry: { retries: 1 },
    requestTimeoutMs: 15_000,
  });
}

/** What a failed call means, in words a person can act on. */
export function explain(error: unknown): string {
  if (!(error instanceof EventBusError)) return error instanceof Error ? error.message : String(error);
  switch (error.code) {
    case 'UNAUTHORIZED':
      return `The bus does not know this key (401): check the API key above. ${error.message}`;
    case 'FORBIDDEN':
      return (
        `This key may not do that (403 FORBIDDEN): its ACL does not grant the permission this view needs. ` +
        `Ask an admin for a key with that permission, or use one that has it. The bus said: ${error.message}`
      );
    default:
      return `${error.message} (${error.status} ${error.code})`;
  }
}
