import type { AclEntry } from '../auth/acl';
import { IamGrants } from '../auth/iam-grants';
import { type BusCore, createServices } from '../bus';
import type { TopicConfig } from './topic';

/**
 * Topics and subscriptions declared in code (the CDK construct's `addTopic`
 * and `subscribe`), applied to the registry at deploy time so they exist
 * before the first event. Applying a declaration twice changes nothing;
 * removing one leaves its data alone unless `removeOnDelete` asks otherwise.
 */
export type Declaration =
  | { readonly kind: 'topic'; readonly topic: TopicConfig; readonly removeOnDelete: boolean }
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
 * existing topic fails the deployment saying so. A subscription declared
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

function iamGrants(bus: BusCore): IamGrants {
  return new IamGrants(bus.clients.dynamo, bus.config.registryTable);
}
