import { execFile } from 'node:child_process';
import { REPO_ROOT } from './process-fleet.ts';

/** `pnpm switchyard …` as its own process (the operator's path), against the given NATS and Postgres. */
export function switchyardCli(
  args: readonly string[],
  env: Record<string, string>,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'packages/cli/src/main.ts', ...args],
      {
        cwd: REPO_ROOT,
        env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
        timeout: 60_000,
      },
      (err, stdout, stderr) =>
        err
          ? reject(
              new Error(`switchyard ${args.join(' ')} failed: ${stderr || err.message}`, {
                cause: err,
              }),
            )
          : resolve(stdout),
    );
  });
}

/** `tenant create` then `endpoint add` for every event type, as an operator would set a tenant up. */
export async function createTenantWithEndpoint(
  env: Record<string, string>,
  tenant: string,
  endpointUrl: string,
): Promise<void> {
  await switchyardCli(['tenant', 'create', tenant], env);
  await switchyardCli(['--json', 'endpoint', 'add', tenant, endpointUrl, '--types', '*'], env);
}
