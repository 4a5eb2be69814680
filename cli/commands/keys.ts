import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { AclEntry, Permission } from '../../client';
import { contextOf } from '../context';
import { table } from '../output';

const PERMISSIONS: readonly Permission[] = ['publish', 'read', 'admin'];

/** `orders*=publish,read` as an ACL entry. */
function aclEntry(raw: string): AclEntry {
  const [topics, permissions] = raw.split('=');
  const list = (permissions ?? '').split(',').filter(Boolean);
  if (!topics || list.length === 0 || !list.every((p) => PERMISSIONS.includes(p as Permission))) {
    throw new InvalidArgumentError(
      `Give <topic pattern>=<permission>[,<permission>…] with permissions from ${PERMISSIONS.join(', ')}, e.g. "orders*=publish,read"; got "${raw}".`,
    );
  }
  return { topics, permissions: list as Permission[] };
}

function describeAcl(acl: readonly AclEntry[]): string {
  return acl.map((entry) => `${entry.topics}=${entry.permissions.join(',')}`).join(' ');
}

/** `eventbus keys create|list|revoke`. */
export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('create, list and revoke API keys (admin key only)');

  keys
    .command('create')
    .description('create an API key; it is shown only once')
    .requiredOption(
      '--acl <pattern=permissions>',
      'what the key may do, repeatable: e.g. --acl "orders*=publish,read" (permissions: publish, read, admin)',
      (raw: string, previous: AclEntry[] = []) => [...previous, aclEntry(raw)],
    )
    .option('-d, --description <text>', 'what the key is for')
    .action(async (options: { acl: AclEntry[]; description?: string }, command: Command) => {
      const { client, out } = contextOf(command);
      const created = await client.createKey({ acl: options.acl, description: options.description });
      out.result(
        created,
        () =>
          `Created key ${created.id} (${describeAcl(options.acl)}).\n${created.key}\nStore it now: the bus keeps only its hash and will not show it again.`,
      );
    });

  keys
    .command('list')
    .description("every key's id, ACL, description and creation time (never the key)")
    .action(async (_options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const all = await client.listKeys();
      out.result({ keys: all }, () =>
        all.length === 0
          ? 'No keys besides the admin key; create one with: eventbus keys create --acl "orders*=publish"'
          : table(
              ['id', 'acl', 'description', 'created'],
              all.map((k) => [k.id, describeAcl(k.acl), k.description, k.createdAt]),
            ),
      );
    });

  keys
    .command('revoke <id>')
    .description('revoke a key: it stops working at once here, within 60 s everywhere')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      await client.revokeKey(id);
      out.result({ revoked: id }, () => `Revoked key ${id}.`);
    });
}
