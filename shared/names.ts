import { z } from 'zod';

/** Topics and groups: `^[A-Za-z0-9._-]{1,200}$` (docs/api.md, Conventions). */
const NAME = /^[A-Za-z0-9._-]{1,200}$/;
const NAME_RULE = 'use 1 to 200 characters from A-Z, a-z, 0-9, ".", "_" and "-"';

function name(kind: 'topic' | 'group') {
  return z
    .string({ error: `A ${kind} name must be a string: ${NAME_RULE}.` })
    .regex(NAME, {
      error: (issue) => `The ${kind} name "${String(issue.input).slice(0, 220)}" is invalid: ${NAME_RULE}.`,
    })
    .meta({ description: `A ${kind} name: ${NAME_RULE}.`, example: kind === 'topic' ? 'orders' : 'billing' });
}

/** A topic's name. */
export const TopicName = name('topic');
/** A consumer group's name: the same rule as a topic's (groups share the ACL's name patterns). */
export const GroupName = name('group');

export function isValidName(name: string): boolean {
  return NAME.test(name);
}
