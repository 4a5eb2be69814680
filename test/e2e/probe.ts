/**
 * The end-to-end suite's subscriber: accepts every event except those whose value has
 * `"poison": true`, which it reports failed so that they end as dead letters. Deployed by
 * `npm run deploy:local` (context `eventbus:e2eProbe`), or declared locally with
 * `EVENTBUS_LOCAL_FUNCTIONS=probe=test/e2e/probe.ts#handler`.
 */
import { createConsumer } from '../../consumer';

export const handler = createConsumer(
  (event) => {
    if ((event.value as { poison?: boolean } | null)?.poison === true) {
      throw new Error(`poison event at offset ${event.offset}`);
    }
  },
  { afterFailure: 'continue' },
);
