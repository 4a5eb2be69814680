import { EventBusError } from '../client';
import { DEFAULT_DATA_DIR } from '../local/defaults';

/**
 * The CLI's exit codes: scripts branch on them, so they are stable and
 * listed in `eventbus --help`.
 */
export const EXIT = {
  ok: 0,
  /** An unexpected failure: a bug in the CLI. */
  internal: 1,
  /** Unknown command or option, or an argument the CLI cannot use. */
  usage: 2,
  /** The bus did not answer (not running, wrong URL, network down). */
  unreachable: 3,
  /** The key was refused: missing or unknown (401), or not allowed (403). */
  auth: 4,
  /** The topic, subscription or key does not exist (404). */
  notFound: 5,
  /** It exists with another configuration (409), or an Idempotency-Key was reused (422). */
  conflict: 6,
  /** The bus refused the request as invalid (400, 410, 413, 415). */
  invalid: 7,
  /** The bus stayed unavailable (429, 503) through every retry. */
  unavailable: 8,
  /** `publish`: some events were not committed (the summary says how many, and why). */
  partial: 9,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  unexpected failure (a bug: please report it)
  2  usage: unknown command or option, or a bad argument
  3  the bus could not be reached (is it running? check --url / EVENTBUS_URL)
  4  the key was refused (401 missing or unknown, 403 not allowed by its ACL)
  5  not found: no such topic, subscription or key (404)
  6  conflict: it exists with another configuration (409), or an Idempotency-Key was reused (422)
  7  the bus refused the request as invalid (400, 410, 413, 415)
  8  the bus stayed unavailable (429, 503) through every retry
  9  publish: some events were not committed`;

/** A mistake in the command line itself, found by the CLI rather than the bus. */
export class UsageError extends Error {}

/**
 * The exit code for an error thrown by a command.
 *
 * @example
 * exitCodeFor(new NetworkError('no answer', cause)); // EXIT.unreachable (3)
 */
export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (!(error instanceof EventBusError)) return EXIT.internal;
  if (error.code === 'NETWORK_ERROR') return EXIT.unreachable;
  if (error.status === 401 || error.status === 403) return EXIT.auth;
  if (error.status === 404) return EXIT.notFound;
  if (error.status === 409 || error.status === 422) return EXIT.conflict;
  if (error.status === 429 || error.status === 503) return EXIT.unavailable;
  if (error.status >= 400 && error.status < 500) return EXIT.invalid;
  return EXIT.internal;
}

/**
 * What to do about an error, beyond the bus's own message (which already says what to fix in a request).
 *
 * @example
 * hintFor(error, { url: 'http://127.0.0.1:4000', keySource: '--key' }); // "Start the bus (npm start) or …"
 */
export function hintFor(error: unknown, where: { url: string; keySource: string }): string | undefined {
  if (!(error instanceof EventBusError)) return undefined;
  switch (error.code) {
    case 'NETWORK_ERROR':
      return `Start the bus (npm start) or point the CLI at it with --url or EVENTBUS_URL (now ${where.url}).`;
    case 'UNAUTHORIZED':
      return `Pass a key with --key or EVENTBUS_KEY (now: ${where.keySource}); in local mode the admin key is in ${DEFAULT_DATA_DIR}/admin-key under EVENTBUS_DATA_DIR or the current directory.`;
    case 'FORBIDDEN':
      return "This key's ACL does not allow it; use a key that does (eventbus keys list shows the ACLs).";
    case 'TOPIC_NOT_FOUND':
      return 'eventbus topics list shows the topics; eventbus topics create <name> makes one.';
    case 'SUBSCRIPTION_NOT_FOUND':
      return 'eventbus subscriptions list shows the subscriptions.';
    case 'UNAVAILABLE':
      return 'The bus is up but cannot take requests now; retry in a moment (GET /health names what is down).';
    default:
      return undefined;
  }
}
