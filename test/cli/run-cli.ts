import { spawn } from 'node:child_process';
import path from 'node:path';

const BIN = path.resolve(__dirname, '../../bin/eventbus.js');

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the real `eventbus` binary (the bin shim, as npm links it) with
 * only the environment given: none of the test run's EVENTBUS_ or AWS_
 * variables leak in.
 */
export function runCli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: string; cwd?: string } = {},
): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(EVENTBUS_|AWS_)/.test(name)) env[name] = value;
  }
  Object.assign(env, options.env);
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? path.resolve(__dirname, '../..'),
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr += chunk;
  });
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
