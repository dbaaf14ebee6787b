/** The `switchyard` command tree, built per invocation so tests can drive it. */
import { Command } from 'commander';
import { registerDlqCommands } from './commands/dlq.ts';
import { registerEndpointCommands } from './commands/endpoint.ts';
import { registerKeyCommands } from './commands/key.ts';
import { registerMediaCommands } from './commands/media.ts';
import { registerMigrateCommand } from './commands/migrate.ts';
import { registerNatsCredentialsCommands } from './commands/nats-credentials.ts';
import { registerTenantCommands } from './commands/tenant.ts';
import { registerSessionCommands } from './commands/session.ts';
import type { CliContext } from './context.ts';
import type { Output } from './output.ts';

export function buildProgram(ctx: () => CliContext): Command {
  const program = new Command('switchyard')
    .description('operate a Switchyard deployment')
    .option('--json', 'print machine-readable JSON')
    .showHelpAfterError();
  const out = (): Output => ({ json: Boolean(program.opts<{ json?: boolean }>().json) });
  registerMigrateCommand(program, ctx, out);
  registerTenantCommands(program, ctx, out);
  registerKeyCommands(program, ctx, out);
  registerEndpointCommands(program, ctx, out);
  registerDlqCommands(program, ctx, out);
  registerMediaCommands(program, ctx, out);
  registerSessionCommands(program, ctx, out);
  registerNatsCredentialsCommands(program, ctx, out);
  return program;
}

