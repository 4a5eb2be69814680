import { z } from 'zod';
import { TopicName } from '../../../shared/names';
import { COMPATIBILITY_MODES } from '../../../shared/schemas/compatibility';
import { defineRoute } from '../contract/route';
import { TopicPath } from '../contract/schemas';
import { json } from '../http';

const Compatibility = z.enum(COMPATIBILITY_MODES, {
  error: `"compatibility" must be one of ${COMPATIBILITY_MODES.join(', ')}.`,
});

const SchemaBody = z
  .strictObject(
    {
      schema: z.unknown().meta({ description: 'A JSON Schema (draft 2020-12); only local $refs.' }),
      compatibility: Compatibility.optional().meta({
        description:
          'Holds for the topic from now on; omitted, the topic keeps its mode (BACKWARD at first).',
      }),
    },
    { error: 'The body must be {"schema": {…}, "compatibility"?: "BACKWARD" | …}.' },
  )
  .meta({
    id: 'SchemaRequest',
    example: { schema: { type: 'object', required: ['id'] }, compatibility: 'BACKWARD' },
  });

const Registered = z
  .object({ version: z.int().min(1), compatibility: Compatibility })
  .meta({ id: 'SchemaRegistered' });

const SchemaVersionAnswer = z
  .object({ version: z.int().min(1), schema: z.unknown(), createdAt: z.string() })
  .meta({ id: 'SchemaVersion' });

const VersionPath = z.object({
  topic: TopicName,
  version: z.coerce.number().int().min(1).meta({ description: 'A version number, from 1.' }),
});

/** PUT /topics/{topic}/schema — 201 with a new version, 200 when equal to the latest, 409 when incompatible. */
export const putSchema = defineRoute({
  method: 'PUT',
  path: '/topics/{topic}/schema',
  operationId: 'putSchema',
  tag: 'schemas',
  summary: "Register a version of a topic's schema",
  description:
    "201 with the new version; 200 with the latest when the schema equals it; 409 SCHEMA_INCOMPATIBLE with the reasons when it breaks the topic's compatibility mode (Confluent's meanings).",
  access: { permission: 'admin', resource: { param: 'topic' } },
  params: TopicPath,
  body: { schema: SchemaBody },
  responses: {
    201: { description: 'A new version.', schema: Registered },
    200: { description: 'The schema equals the latest version.', schema: Registered },
    409: { description: 'SCHEMA_INCOMPATIBLE, with `reasons`.' },
  },
  handle: async ({ params, body }, { schemas }) => {
    const { version, created, compatibility } = await schemas.register(
      params.topic,
      body.schema,
      body.compatibility,
    );
    return json(created ? 201 : 200, { version, compatibility });
  },
});

/** GET /topics/{topic}/schema — the latest version and the topic's mode. */
export const getSchema = defineRoute({
  method: 'GET',
  path: '/topics/{topic}/schema',
  operationId: 'getSchema',
  tag: 'schemas',
  summary: "A topic's latest schema",
  description:
    'The latest version, its schema and the compatibility mode; 404 NOT_FOUND when the topic has none.',
  access: { permission: 'read', resource: { param: 'topic' } },
  params: TopicPath,
  responses: {
    200: {
      description: 'The latest version.',
      schema: SchemaVersionAnswer.extend({ compatibility: Compatibility }).meta({ id: 'LatestSchema' }),
    },
  },
  handle: async ({ params }, { schemas }) => json(200, await schemas.latest(params.topic)),
});

/** GET /topics/{topic}/schema/versions — every version, oldest first. */
export const listSchemaVersions = defineRoute({
  method: 'GET',
  path: '/topics/{topic}/schema/versions',
  operationId: 'listSchemaVersions',
  tag: 'schemas',
  summary: "A topic's schema versions",
  description: 'Every registered version, oldest first.',
  access: { permission: 'read', resource: { param: 'topic' } },
  params: TopicPath,
  responses: {
    200: {
      description: 'The versions.',
      schema: z
        .object({ versions: z.array(z.object({ version: z.int().min(1), createdAt: z.string() })) })
        .meta({ id: 'SchemaVersionList' }),
    },
  },
  handle: async ({ params }, { schemas }) => json(200, { versions: await schemas.versions(params.topic) }),
});

/** GET /topics/{topic}/schema/versions/{version} — one version. */
export const getSchemaVersion = defineRoute({
  method: 'GET',
  path: '/topics/{topic}/schema/versions/{version}',
  operationId: 'getSchemaVersion',
  tag: 'schemas',
  summary: 'One schema version',
  description: 'One registered version; 404 NOT_FOUND when there is no such version.',
  access: { permission: 'read', resource: { param: 'topic' } },
  params: VersionPath,
  responses: { 200: { description: 'The version.', schema: SchemaVersionAnswer } },
  handle: async ({ params }, { schemas }) => json(200, await schemas.version(params.topic, params.version)),
});

export const schemaRoutes = [putSchema, getSchema, listSchemaVersions, getSchemaVersion];
