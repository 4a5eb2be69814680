import { BusError } from '../errors';

/** The header an accepted event carries: the version of its topic's schema it was checked against. */
export const SCHEMA_VERSION_HEADER = 'eventbus-schema-version';

import type { Incompatibility } from './compatibility';

/** A new schema version breaks the topic's compatibility mode (409), with every reason found. */
export class SchemaIncompatibleError extends BusError {
  constructor(readonly reasons: readonly Incompatibility[]) {
    super(
      409,
      'SCHEMA_INCOMPATIBLE',
      `The schema breaks the topic's compatibility: ${reasons.map((r) => `${r.pointer || '/'} ${r.reason}`).join('; ')}`,
      { details: { reasons } },
    );
  }
}

/** An event's value does not satisfy the topic's schema: nothing of the request was appended (400). */
export class SchemaViolationError extends BusError {
  constructor(
    readonly index: number,
    readonly pointer: string,
    readonly rule: string,
    version: number,
    message: string,
  ) {
    super(
      400,
      'SCHEMA_VIOLATION',
      `Event ${index} does not match version ${version} of the topic's schema at "${pointer}": ${message} (${rule}); nothing was appended.`,
      { details: { index, pointer, rule, version } },
    );
  }
}
