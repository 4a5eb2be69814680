/**
 * The bus as `npm start` runs it (local/main.ts), with every SDK client of its functions counting its
 * requests by `<Service>.<Operation>`: on SIGUSR2 the counts so far are written to `BENCH_REQUEST_STATS`.
 * `bench/bus-process.ts` starts this file.
 */
import { writeFileSync } from 'node:fs';
import { runLocalBus } from '../local/main';
import { type AwsClients, createAwsClients } from '../shared/aws/clients';
import { RequestCounter } from './request-counter';

const statsFile = process.env.BENCH_REQUEST_STATS;
if (!statsFile) throw new Error('BENCH_REQUEST_STATS names the file the request counts are written to.');

const counter = new RequestCounter();

function counted(clients: AwsClients): AwsClients {
  counter.count(clients.dynamo, 'DynamoDB');
  counter.count(clients.s3, 'S3');
  counter.count(clients.lambda, 'Lambda');
  return clients;
}

process.on('SIGUSR2', () => writeFileSync(statsFile, JSON.stringify(counter.snapshot())));
runLocalBus({ clients: (env) => counted(createAwsClients(env)) });
