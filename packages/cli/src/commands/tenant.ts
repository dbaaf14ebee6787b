import type { Command } from 'commander';
import { deleteTenant, listTenants, natsUsersOf, provisionTenant } from '@switchyard/db';
import { announceTenant, retractTenant } from '@switchyard/nats';
import { assertTenantId } from '@switchyard/schema';
import type { CliContext } from '../context.ts';
import { issueTenantCreds, natsSigningFrom, tenantCredsHowTo } from './nats-credentials.ts';
import { print, table, type Output } from '../output.ts';

export function registerTenantCommands(program: Command, ctx: () => CliContext, out: () => Output): void {
  const tenant = program.command('tenant').description('create, list and delete tenants');

  tenant
    .command('create <id>')
    .description('record a tenant, create and migrate its schema, announce it, and mint its NATS credentials')
    .option('--creds-out <file>', 'write the tenant NATS .creds file here (mode 0600) instead of printing it')
    .action(async (id: string, opts: { credsOut?: string }) => {
      assertTenantId(id);
      // Checked first: a half-configured signing env should fail before anything is provisioned.
      const c = ctx();
      const signing = natsSigningFrom(c.config);
      // Postgres first: services start consuming as soon as the tenant is announced, and their
      // first write must find the schema in place. Re-running is safe at every step.
      const row = await provisionTenant(await c.db(), id);
      const js = (await c.nc()).jetstream();
      await announceTenant(js, id, { created_at: row.createdAt.toISOString() });
      // Minted after the announce, so the tenant's first publish already has a router consumer.
      // Printed once, like API keys: the seed is never stored. A lost file is re-minted with
      // `nats-credentials tenant <id>`.
      const issued = signing !== undefined ? await issueTenantCreds(id, signing, await c.db(), opts.credsOut) : undefined;
      const credsText =
        issued === undefined
          ? '\n(NATS auth not configured: no credentials minted)'
          : issued.file !== undefined
            ? `\nNATS credentials written to ${issued.file}\n${tenantCredsHowTo(id)}`
            : `\nNATS credentials (shown once; save as ${id}.creds):\n\n${issued.creds}\n${tenantCredsHowTo(id)}`;
      print(out(), `tenant ${id} ready (schema ${row.schemaName}); services pick it up now${credsText}`, {
        ...row,
        ...(issued !== undefined ? { nats_creds: issued.creds, ...(issued.file !== undefined ? { nats_creds_file: issued.file } : {}) } : {}),
      });
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
    .description("stop every service consuming for the tenant, then drop its schema and keys (its stored media follows, removed by the media service)")
    .option('--yes', 'confirm: this drops all of the tenant\'s data')
    .action(async (id: string, opts: { yes?: boolean }) => {
      assertTenantId(id);
      if (!opts.yes) throw new Error(`refusing to delete tenant ${id} without --yes (drops all of its data)`);
      const c = ctx();
      // Retract first so services stop consuming before the schema disappears under them.
      await retractTenant((await c.nc()).jetstream(), id);
      const existed = await deleteTenant(await c.db(), id);
      // Deleting the tenant does not stop its NATS credentials from publishing to its subjects.
      const valid = (await natsUsersOf(await c.db(), id, { unrevoked: true })).length;
      const reminder = valid > 0 ? `\n${valid} NATS credential(s) of ${id} still valid: revoke them with \`switchyard nats-credentials revoke ${id} --dir <the init directory>\`` : '';
      const media = existed ? `\nits stored media is removed by the media service after MEDIA_PURGE_DELAY (5m by default): \`switchyard media purges\` shows when` : '';
      print(out(), `${existed ? `tenant ${id} deleted` : `tenant ${id} did not exist`}${media}${reminder}`, { id, deleted: existed, nats_credentials_still_valid: valid });
    });
}
