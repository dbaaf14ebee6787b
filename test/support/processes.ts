import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SERVICES = ['capture', 'router', 'persistence', 'media', 'webhook-dispatch', 'dlq-worker'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a TypeScript entry point of the repo as its own Node process (through tsx, as
 * `pnpm start` does), with exactly the given environment on top of PATH/HOME.
 */
export function runTs(entry: string, args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
      cwd: REPO_ROOT,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} ${args.join(' ')} did not exit within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `pnpm switchyard …` as a separate process against the given NATS and Postgres. */
export async function switchyard(args: string[], env: Record<string, string>): Promise<string> {
  const result = await runTs('packages/cli/src/main.ts', args, env);
  if (result.code !== 0) throw new Error(`switchyard ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result.stdout;
}
