/**
 * Counts AWS requests by service and operation, for the benchmark's
 * "requests per 1,000 events". Off unless `EVENTBUS_REQUEST_STATS` is set.
 */
export class RequestCounter {
  private readonly counts = new Map<string, number>();

  /** SDK middleware that counts each operation once, however often the SDK retries it. */
  middleware(service: string) {
    return <I, O>(next: (args: I) => Promise<O>, context: { commandName?: string }) =>
      async (args: I): Promise<O> => {
        const operation = `${service}.${(context.commandName ?? 'Unknown').replace(/Command$/, '')}`;
        this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
        return next(args);
      };
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
  }
}

/** One counter per process, shared by every client `createAwsClients` makes. */
export const requestCounter = new RequestCounter();
