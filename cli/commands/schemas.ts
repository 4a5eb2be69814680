import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { typesForSchema } from '../../shared/schemas/codegen';
import {
  COMPATIBILITY_MODES,
  type CompatibilityMode,
  checkCompatibility,
  type JsonSchema,
} from '../../shared/schemas/compatibility';
import { contextOf, integer } from '../context';
import { table } from '../output';

function mode(raw: string): CompatibilityMode {
  const upper = raw.toUpperCase();
  if (!(COMPATIBILITY_MODES as readonly string[]).includes(upper)) {
    throw new InvalidArgumentError(`Give one of ${COMPATIBILITY_MODES.join(', ')}.`);
  }
  return upper as CompatibilityMode;
}

function schemaFile(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new InvalidArgumentError(`Cannot read a JSON schema from ${file}: ${(error as Error).message}`);
  }
}

/** `eventbus schemas register|get|list|check|codegen`. */
export function registerSchemas(program: Command): void {
  const schemas = program
    .command('schemas')
    .description("topics' schemas: register, read, check, and TypeScript types");

  schemas
    .command('register <topic> <file>')
    .description("register a JSON Schema file as the topic's next version")
    .option(
      '-c, --compatibility <mode>',
      `the topic's mode from now on: ${COMPATIBILITY_MODES.join(', ')}`,
      mode,
    )
    .action(
      async (
        topic: string,
        file: string,
        options: { compatibility?: CompatibilityMode },
        command: Command,
      ) => {
        const { client, out } = contextOf(command);
        const result = await client.registerSchema(topic, schemaFile(file), options.compatibility);
        out.result(result, () =>
          result.created
            ? `Registered version ${result.version} of ${topic}'s schema (${result.compatibility}).`
            : `The schema equals version ${result.version} of ${topic}'s; nothing registered.`,
        );
      },
    );

  schemas
    .command('get <topic>')
    .description("the topic's latest schema, or one version")
    .option('-v, --version <n>', 'a version number', integer(1))
    .action(async (topic: string, options: { version?: number }, command: Command) => {
      const { client, out } = contextOf(command);
      const found = await client.getSchema(topic, options.version);
      out.result(found, () => JSON.stringify(found.schema, null, 2));
    });

  schemas
    .command('list <topic>')
    .description("the topic's schema versions")
    .action(async (topic: string, _options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const versions = await client.listSchemaVersions(topic);
      out.result({ versions }, () =>
        versions.length === 0
          ? `${topic} has no schema; register one with: eventbus schemas register ${topic} schema.json`
          : table(
              ['version', 'created'],
              versions.map((v) => [v.version, v.createdAt]),
            ),
      );
    });

  schemas
    .command('check <topic> <file>')
    .description('whether the topic would accept this schema as its next version (registers nothing)')
    .option('-c, --compatibility <mode>', "check under this mode instead of the topic's", mode)
    .action(
      async (
        topic: string,
        file: string,
        options: { compatibility?: CompatibilityMode },
        command: Command,
      ) => {
        const { client, out } = contextOf(command);
        const schema = schemaFile(file) as JsonSchema;
        const listed = await client.listSchemaVersions(topic);
        // The latest comes with the topic's mode: read once, it is also the last of the versions checked against.
        const [older, latest] = await Promise.all([
          Promise.all(listed.slice(0, -1).map((v) => client.getSchema(topic, v.version))),
          listed.length > 0 ? client.getSchema(topic) : undefined,
        ]);
        const earlier = latest ? [...older, latest] : older;
        const compatibility =
          options.compatibility ??
          (latest as { compatibility?: CompatibilityMode } | undefined)?.compatibility ??
          'BACKWARD';
        const reasons = checkCompatibility(
          schema,
          earlier.map((v) => v.schema as JsonSchema),
          compatibility,
        );
        out.result({ compatible: reasons.length === 0, compatibility, reasons }, () =>
          reasons.length === 0
            ? `Compatible (${compatibility}): the topic would accept it as version ${listed.length + 1}.`
            : [
                `Incompatible (${compatibility}):`,
                ...reasons.map((r) => `  ${r.pointer || '/'}: ${r.reason}`),
              ].join('\n'),
        );
        if (reasons.length > 0) process.exitCode = 1;
      },
    );

  schemas
    .command('codegen <topic>')
    .description("TypeScript types of the topic's schema, on standard output")
    .option('-v, --version <n>', 'a version number (default: the latest)', integer(1))
    .action(async (topic: string, options: { version?: number }, command: Command) => {
      const { client } = contextOf(command);
      const found = await client.getSchema(topic, options.version);
      process.stdout.write(await typesForSchema(topic, found.version, found.schema));
    });
}
