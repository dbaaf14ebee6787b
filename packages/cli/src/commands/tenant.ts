import type { Command } from 'commander';
import { deleteTenant, listTenants, provisionTenant } from '@switchyard/db';
import { announceTenant, retractTenant } from '@switchyard/nats';
import { assertTenantId } from '@switchyard/schema';
import type { CliContext } from '../context.ts';
import { print, table, type Output } from '../output.ts';

export function registerTenantCommands(program: Command, ctx: () => CliContext, out: () => Output): void {
  const tenant = program.command('tenant').description('create, list and delete tenants');

  tenant
    .command('create <id>')
    .description('record a tenant, create and migrate its schema, and announce it to running services')
    .action(async (id: string) => {
      assertTenantId(id);
      const c = ctx();
      // Postgres first: services start consuming as soon as the tenant is announced, and their
      // first write must find the schema in place. Re-running is safe at every step.
      const row = await provisionTenant(await c.db(), id);
      const js = (await c.nc()).jetstream();
      await announceTenant(js, id, { created_at: row.createdAt.toISOString() });
      print(out(), `tenant ${id} ready (schema ${row.schemaName}); services pick it up now`, row);
    });

  tenant
    .command('list')
    .description('list tenants')
    .action(async () => {
      const rows = await listTenants(await ctx().db());
      print(out(), table(rows as unknown as Record<string, unknown>[], ['id', 'schemaName', 'status', 'retentionDays', 'createdAt']), rows);
    });

  tenant
    .command('delete <id>')
    .description("stop every service consuming for the tenant, then drop its schema and keys")
    .option('--yes', 'confirm: this drops all of the tenant\'s data')
    .action(async (id: string, opts: { yes?: boolean }) => {
      assertTenantId(id);
      if (!opts.yes) throw new Error(`refusing to delete tenant ${id} without --yes (drops all of its data)`);
      const c = ctx();
      // Retract first so services stop consuming before the schema disappears under them.
      await retractTenant((await c.nc()).jetstream(), id);
      const existed = await deleteTenant(await c.db(), id);
      print(out(), existed ? `tenant ${id} deleted` : `tenant ${id} did not exist`, { id, deleted: existed });
    });
}
