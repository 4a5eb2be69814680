/**
 * Runs `beat` every `everyMs` until stopped, or until `beat` answers false;
 * returns the stop, which waits for a beat under way. Injected into the
 * deliverer, so a test can freeze a holder's heartbeat the way a stalled
 * process would.
 */
export type Heartbeat = (beat: () => Promise<boolean>, everyMs: number) => () => Promise<void>;

/**
 * The heartbeat on Node's timers; a failed beat is tried again at the next one.
 *
 * @example
 * const stop = timerHeartbeat(() => cursors.renewLease(state, owner, Date.now(), LEASE_MS), LEASE_MS / 3);
 * try { await target.deliver(batch); } finally { await stop(); }
 */
export const timerHeartbeat: Heartbeat = (beat, everyMs) => {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> = Promise.resolve();
  const schedule = () => {
    timer = setTimeout(() => {
      beating = beat().then(
        (goOn) => {
          if (goOn && !stopped) schedule();
        },
        () => {
          if (!stopped) schedule();
        },
      );
    }, everyMs);
    // A heartbeat alone keeps no process alive.
    timer.unref();
  };
  schedule();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await beating;
  };
};
