import { Command } from 'commander';
import { vi } from 'vitest';
import type { CliContext } from './context.ts';
import type { Output } from './output.ts';

export type RegisterCommands = (program: Command, ctx: () => CliContext, out: () => Output) => void;

/**
 * Runs `switchyard --json <args…>` in-process with the given command groups registered, and
 * returns what it printed, parsed. A command that fails rejects with its error.
 */
export async function runCliJson(ctx: () => CliContext, register: readonly RegisterCommands[], args: readonly string[]): Promise<unknown> {
  const program = new Command('switchyard').option('--json').exitOverride();
  for (const add of register) add(program, ctx, () => ({ json: true }));
  const chunks: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await program.parseAsync(['node', 'switchyard', '--json', ...args]);
  } finally {
    write.mockRestore();
  }
  return JSON.parse(chunks.join('')) as unknown;
}
