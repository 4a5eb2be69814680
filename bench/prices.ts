import { readFileSync } from 'node:fs';
import path from 'node:path';

interface Price {
  readonly usd: number;
  readonly per: number;
  readonly source: string;
}
export interface PriceTable {
  readonly region: string;
  readonly asOf: string;
  readonly prices: Record<string, Price>;
  readonly assumptions: Record<string, unknown> & {
    apiMemoryGb: number;
    apiBilledMsByBatch: Record<string, number>;
    apiRoundTripMsByBatch: Record<string, number>;
    apiCpuMsByBatch: Record<string, number>;
    apiRequestsPerMetricsFlush: number;
    platformLogBytesPerInvocation: number;
    platformLogBytesPerInvocationText: number;
    xraySampledPerSecond: number;
    xraySampledShare: number;
    dispatcherMemoryGb: number;
    dispatcherBilledMs: number;
    streamRecordsPerDispatcherInvocation: number;
    delivererMemoryGb: number;
    delivererBilledMsPerBatch: number;
    deliveredBatchesPerDelivererInvocation: number;
    deliveryBatchEvents: number;
    deliveryCommitWritesPerBatch: number;
    kinesisStreamHoursPerMonth: number;
    kinesisMonthlyEvents: number;
    sqsRequestsPerEventConsumed: number;
  };
}

/** bench/prices.json: list prices with their sources, and the cost model's assumptions. */
export const priceTable = JSON.parse(readFileSync(path.join(__dirname, 'prices.json'), 'utf8')) as PriceTable;
/** USD per one unit of `name` (bench/prices.json). */
export const price = (name: string) => {
  const p = priceTable.prices[name];
  if (!p) throw new Error(`bench/prices.json has no price "${name}"`);
  return p.usd / p.per;
};
