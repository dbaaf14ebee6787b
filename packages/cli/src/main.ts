#!/usr/bin/env node
/**
 * `pnpm switchyard …` — the operator's CLI: tenants, API keys, webhook endpoints, migrations.
 * Errors are printed as one line on stderr with exit code 1; `--json` prints machine output.
 */
import { ConfigError, DependencyUnreachableError } from '@switchyard/runtime';
import { InvalidIdError } from '@switchyard/schema';
import { loadCliConfig } from './config.ts';
import { CliContext } from './context.ts';
import { buildProgram } from './program.ts';

async function main(argv: string[]): Promise<number> {
  let context: CliContext | undefined;
  const ctx = () => (context ??= new CliContext(loadCliConfig()));
  try {
    await buildProgram(ctx).parseAsync(argv);
    return 0;
  } catch (err) {
    process.stderr.write(`switchyard: ${describe(err)}\n`);
    return 1;
  } finally {
    await context?.close();
  }
}

function describe(err: unknown): string {
  if (err instanceof ConfigError || err instanceof DependencyUnreachableError || err instanceof InvalidIdError) {
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

process.exitCode = await main(process.argv);
