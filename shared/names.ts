import { InvalidRequestError } from './errors';

/** Topics and groups: `^[A-Za-z0-9._-]{1,200}$` (docs/api.md, Conventions). */
const NAME = /^[A-Za-z0-9._-]{1,200}$/;

export function isValidName(name: string): boolean {
  return NAME.test(name);
}

/** Throws INVALID_REQUEST unless `name` is a valid topic or group name. */
export function assertValidName(kind: 'topic' | 'group', name: string): void {
  if (!isValidName(name)) {
    throw new InvalidRequestError(
      `The ${kind} name "${name.slice(0, 220)}" is invalid: use 1 to 200 characters from A-Z, a-z, 0-9, ".", "_" and "-".`,
    );
  }
}
