import { SETTINGS } from '../shared/config';
import { type FunctionDefinition, leaseWakeQueue, segmentBucket, tables, tablesOf } from '../shared/topology';

/** Every variable through which the bus tells a function something: table and bucket names, settings. */
const BUS_VARIABLES = new Set<string>([
  ...tables.map((table) => table.envVar),
  segmentBucket.envVar,
  leaseWakeQueue.envVar,
  ...Object.values(SETTINGS).map((setting) => setting.env),
]);

/**
 * The environment a function runs with in local mode, as its deployment gives it: of the bus's own
 * variables, only the tables, bucket and settings its definitions name (`shared/topology.ts`), so a
 * function reaching for a table its access leaves out fails here as it would on AWS. The rest of `env`
 * (endpoints, region, credentials, Powertools) passes through. Functions sharing one process get the
 * union of their definitions.
 *
 * @example
 * createSweeperHandler(functionEnvironment([sweeperFunction], process.env));
 */
export function functionEnvironment(
  defs: readonly FunctionDefinition[],
  env: NodeJS.ProcessEnv,
): NodeJS.ProcessEnv {
  const named = new Set<string>(
    defs.flatMap((def) => [
      ...tablesOf(def).map((table) => table.envVar),
      ...(def.access.segments ? [segmentBucket.envVar] : []),
      ...(def.access.leaseWakes ? [leaseWakeQueue.envVar] : []),
      ...def.settings.map((name) => SETTINGS[name].env),
    ]),
  );
  return Object.fromEntries(
    Object.entries(env).filter(([name]) => !BUS_VARIABLES.has(name) || named.has(name)),
  );
}
