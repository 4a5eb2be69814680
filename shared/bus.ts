import { Authorizer } from './auth/authorizer';
import { DynamoKeyStore } from './auth/dynamo-key-store';
import { type AwsClients, createAwsClients } from './aws/clients';
import { type BusConfig, configFromEnv } from './config';
import { Log } from './log/log';
import { RegistryIdempotencyStore } from './publish/idempotency-store';
import { Publisher } from './publish/publisher';
import { TopicRegistry } from './registry/topic-registry';

/** Everything a handler needs, wired once per process from the environment. */
export interface Bus {
  readonly config: BusConfig;
  readonly clients: AwsClients;
  readonly log: Log;
  readonly topics: TopicRegistry;
  readonly publisher: Publisher;
  readonly authorizer: Authorizer;
}

export interface BusOptions {
  readonly adminKey: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly clients?: AwsClients;
}

export function createBus(options: BusOptions): Bus {
  const env = options.env ?? process.env;
  const config = configFromEnv(env);
  const clients = options.clients ?? createAwsClients(env);
  const log = new Log({ dynamo: clients.dynamo, s3: clients.s3, config });
  return {
    config,
    clients,
    log,
    topics: new TopicRegistry(clients.dynamo, config.registryTable),
    publisher: new Publisher(log, new RegistryIdempotencyStore(clients.dynamo, config.registryTable)),
    authorizer: new Authorizer(options.adminKey, {
      keyStore: new DynamoKeyStore(clients.dynamo, config.registryTable),
    }),
  };
}
