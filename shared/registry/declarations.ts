import type { AclEntry } from '../auth/acl';
import { IamGrants } from '../auth/iam-grants';
import { type BusCore, createServices } from '../bus';
import type { CompatibilityMode } from '../schemas/compatibility';
import { SchemaIncompatibleError } from '../schemas/schema-errors';
import { SchemaRegistry } from '../schemas/schema-registry';
import { SchemaService } from '../services/schemas';
import type { TopicConfig } from './topic';

/**
 * Topics and subscriptions declared in code (the CDK construct's `addTopic`
 * and `subscribe`), applied to the registry at deploy time so they exist
 * before the first event. Applying a declaration twice changes nothing;
 * removing one leaves its data alone unless `removeOnDelete` asks otherwise.
 */
export type Declaration =
  | {
      readonly kind: 'topic';
      readonly topic: TopicConfig;
      /** The topic's JSON Schema: registered as its next version when it changed. */
      readonly schema?: unknown;
      /** The topic's compatibility mode, set with the schema. */
      readonly compatibility?: CompatibilityMode;
      readonly removeOnDelete: boolean;
    }
  | {
      readonly kind: 'subscription';
      readonly group: string;
      /** The `PUT /subscriptions/{group}` body: the same checks apply. */
      readonly subscription: Record<string, unknown>;
      readonly removeOnDelete: boolean;
    }
  | {
      /** An IAM role's grant (`grantPublish`), for a Function URL with AWS_IAM auth. */
      readonly kind: 'iam-grant';
      readonly role: string;
      readonly acl: readonly [AclEntry];
      readonly removeOnDelete: boolean;
    };

/** The declaration's identity: a changed one names a resource CloudFormation replaces. */
export function declarationId(declaration: Declaration): string {
  if (declaration.kind === 'topic') return `topic:${declaration.topic.name}`;
  if (declaration.kind === 'subscription') return `subscription:${declaration.group}`;
  return `iam-grant:${declaration.role}#${declaration.acl[0].topics}`;
}

/**
 * Makes the registry hold `declaration`. A topic's partitions and retention
 * never change once created (keys would move partitions), so a different
 * existing topic fails the deployment saying so. A topic's declared schema
 * is registered under its compatibility mode as the API registers one; an
 * incompatible change fails the deployment with the reasons. A subscription declared
 * anew replaces the registry's (its cursors stay, so the group goes on from
 * where it is); one created through the API under the same name is not
 * overwritten by a first deployment.
 */
export async function applyDeclaration(
  bus: BusCore,
  declaration: Declaration,
  previous?: Declaration,
  secret?: string,
): Promise<void> {
  if (declaration.kind === 'iam-grant') {
    await iamGrants(bus).put(declaration.role, declaration.acl[0]);
    return;
  }
  const services = createServices(bus);
  if (declaration.kind === 'topic') {
    await services.topics.declare(declaration.topic);
    if (declaration.schema !== undefined) await declareSchema(bus, declaration);
    return;
  }
  await services.subscriptions.declare(
    declaration.group,
    { ...declaration.subscription, ...(secret === undefined ? {} : { secret }) },
    previous?.kind === 'subscription' && previous.group === declaration.group,
  );
}

/** Undoes a declaration removed from the app, if it asked for that: its events and cursors stay until they expire. */
export async function removeDeclaration(bus: BusCore, declaration: Declaration): Promise<void> {
  if (!declaration.removeOnDelete) return;
  if (declaration.kind === 'topic') await bus.topics.delete(declaration.topic.name);
  else if (declaration.kind === 'subscription') await bus.subscriptions.delete(declaration.group);
  else await iamGrants(bus).delete(declaration.role, declaration.acl[0].topics);
}

/**
 * Registers a declared schema: a new version only when it is none of the
 * topic's versions yet. A rollback re-applies the previous declaration, whose
 * schema is then an earlier version: registering it again would add a version
 * with the old content — or, when the old schema is not compatible with the
 * new one, fail the rollback and leave the stack in UPDATE_ROLLBACK_FAILED.
 * Versions are immutable and only move forward (producers may already have
 * published against the new one), so an earlier version declared again is no
 * change and the latest stays enforced; under BACKWARD or FULL modes the
 * rolled-back producers' events satisfy it. Going back to an earlier schema
 * for good takes a change of its own (a new version), as in Confluent's
 * registry. A schema removed from the declaration leaves its versions in
 * force.
 */
async function declareSchema(
  bus: BusCore,
  declaration: Extract<Declaration, { kind: 'topic' }>,
): Promise<void> {
  const { name } = declaration.topic;
  const schemas = new SchemaService(
    new SchemaRegistry(bus.clients.dynamo, bus.config.registryTable),
    bus.topics,
    // The API instances' caches of the latest version expire within seconds; the registrar keeps none.
    { forget: () => {} },
  );
  try {
    await schemas.register(name, declaration.schema, declaration.compatibility, { anyVersion: true });
  } catch (error) {
    if (!(error instanceof SchemaIncompatibleError)) throw error;
    // What CloudFormation shows as the custom resource's failure: which topic, and every reason.
    throw new Error(`Topic "${name}": ${error.message}`, { cause: error });
  }
}

function iamGrants(bus: BusCore): IamGrants {
  return new IamGrants(bus.clients.dynamo, bus.config.registryTable);
}
