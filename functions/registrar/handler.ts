import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { type BusCore, createRegistrarRole } from '../../shared/bus';
import { createLogger } from '../../shared/observability/logger';
import {
  applyDeclaration,
  type Declaration,
  declarationId,
  removeDeclaration,
} from '../../shared/registry/declarations';

const logger = createLogger();

/** What the construct puts in a declaration's custom resource (CloudFormation passes properties as text). */
export interface DeclarationProperties {
  /** The declaration as JSON. */
  readonly Declaration: string;
  /** A webhook subscription's signing secret in Secrets Manager: `whsec_…`, or the part after it. */
  readonly SigningSecretArn?: string;
}

/** Reads a signing secret; the construct generates secrets without the `whsec_` prefix. */
export type SecretReader = (arn: string) => Promise<string>;

const readSecret: SecretReader = async (arn) => {
  const value = await new SecretsProvider().get(arn, { maxAge: 0 });
  if (typeof value !== 'string') throw new Error(`Secret ${arn} holds no text.`);
  return value.startsWith('whsec_') ? value : `whsec_${value}`;
};

/**
 * The custom resource behind `EventBus.addTopic` and `EventBus.subscribe`
 * (the CDK Provider framework calls it): registers a declaration on create
 * and update, and on delete removes it only if it asked to.
 */
export function createRegistrarHandler(
  core: BusCore = createRegistrarRole(),
  secrets: SecretReader = readSecret,
) {
  return async (event: CloudFormationCustomResourceEvent) => {
    const properties = event.ResourceProperties as unknown as DeclarationProperties;
    const declaration = JSON.parse(properties.Declaration) as Declaration;
    const physicalResourceId = declarationId(declaration);
    logger.info('declaration', { requestType: event.RequestType, id: physicalResourceId });
    if (event.RequestType === 'Delete') {
      // A rollback deletes a declaration whose creation failed (say, a group of that name made through the
      // API): its physical id is then not the declaration's, and what carries the name is not ours to remove.
      if (event.PhysicalResourceId === physicalResourceId) await removeDeclaration(core, declaration);
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
    const previous =
      event.RequestType === 'Update'
        ? (JSON.parse(
            (event.OldResourceProperties as unknown as DeclarationProperties).Declaration,
          ) as Declaration)
        : undefined;
    const secret = properties.SigningSecretArn ? await secrets(properties.SigningSecretArn) : undefined;
    await applyDeclaration(core, declaration, previous, secret);
    return { PhysicalResourceId: physicalResourceId };
  };
}

let register: ReturnType<typeof createRegistrarHandler> | undefined;

export const handler = (event: CloudFormationCustomResourceEvent) => {
  register ??= createRegistrarHandler();
  return register(event);
};
