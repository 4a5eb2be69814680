import { rm } from 'node:fs/promises';
import type { TestBackends } from './global-setup';

/** Stops the emulators global-setup.ts started and removes their data. */
export default async function globalTeardown(): Promise<void> {
  const state: TestBackends | undefined = globalThis.__eventbusTestBackends;
  if (!state) return;
  globalThis.__eventbusTestBackends = undefined;
  await state.backends.stop();
  if (state.dataDir) await rm(state.dataDir, { recursive: true, force: true });
}
