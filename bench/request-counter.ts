/**
 * Counts AWS requests by service and operation, for the benchmark's
 * "requests per 1,000 events" (bench/metered-bus.ts).
 */
export class RequestCounter {
  private readonly counts = new Map<string, number>();

  /** Adds to `client` SDK middleware that counts each operation once, however often the SDK retries it. */
  count(client: { middlewareStack: { add: (...args: never[]) => void } }, service: string): void {
    const middleware =
      <I, O>(next: (args: I) => Promise<O>, context: { commandName?: string }) =>
      async (args: I): Promise<O> => {
        const operation = `${service}.${(context.commandName ?? 'Unknown').replace(/Command$/, '')}`;
        this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
        return next(args);
      };
    (client.middlewareStack.add as (...args: unknown[]) => void)(middleware, {
      step: 'initialize',
      name: 'countRequests',
    });
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
  }
}
