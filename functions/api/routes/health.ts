import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Bus } from '../../../shared/bus';
import { UnavailableError } from '../../../shared/errors';
import { type HttpResult, json } from '../http';

/** GET /health — no key needed; 200 when the registry answers, so the bus can take events. */
export async function health(bus: Bus): Promise<HttpResult> {
  try {
    await bus.clients.dynamo.send(
      new GetCommand({ TableName: bus.config.registryTable, Key: { pk: 'health', sk: 'health' } }),
    );
  } catch (error) {
    throw new UnavailableError('The bus cannot reach its storage.', 5, { cause: error });
  }
  return json(200, { status: 'ok' });
}
