import type { Command } from 'commander';
import { listTenants, migrateTenant } from '@switchyard/db';
import type { CliContext } from '../context.ts';
import { print, type Output } from '../output.ts';

export function registerMigrateCommand(program: Command, ctx: () => CliContext, out: () => Output): void {
  program
    .command('migrate')
    .description('create the database if missing, migrate the control schema and every tenant schema, declare the streams')
    .option('--skip-nats', 'do not declare the JetStream streams')
    .action(async (opts: { skipNats?: boolean }) => {
      const c = ctx();
      const pool = await c.db(); // creates the database and migrates the control schema
      const tenants = await listTenants(pool);
      for (const t of tenants) await migrateTenant(pool, t.id);
      if (!opts.skipNats) await c.nc(); // declares INGEST, EVENTS and DLQ
      print(out(), `migrated control schema and ${tenants.length} tenant schema(s)`, { tenants: tenants.length });
    });
}
