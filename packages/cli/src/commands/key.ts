import type { Command } from 'commander';
import { createApiKey, listApiKeys, revokeApiKey } from '@switchyard/db';
import { assertTenantId } from '@switchyard/schema';
import type { CliContext } from '../context.ts';
import { print, table, type Output } from '../output.ts';

export function registerKeyCommands(program: Command, ctx: () => CliContext, out: () => Output): void {
  const key = program.command('key').description('create, list and revoke API keys');

  key
    .command('create [tenant]')
    .description('create an API key; the key is shown once and stored hashed')
    .option('--role <role>', 'read | admin (tenant keys)', 'read')
    .option('--operator', 'create an operator key for cross-tenant SRE work (no tenant)')
    .option('--name <name>', 'a label to recognise the key by')
    .action(async (tenant: string | undefined, opts: { role: string; operator?: boolean; name?: string }) => {
      const role = opts.operator ? 'operator' : opts.role;
      if (role !== 'read' && role !== 'admin' && role !== 'operator') {
        throw new Error(`--role must be read or admin (got ${JSON.stringify(opts.role)})`);
      }
      if (role === 'operator' && tenant) throw new Error('an operator key belongs to no tenant: drop the tenant argument');
      if (role !== 'operator' && !tenant) throw new Error('a tenant key needs a tenant: switchyard key create <tenant> --role read|admin');
      const created = await createApiKey(await ctx().db(), {
        tenant: tenant ? assertTenantId(tenant) : null,
        role,
        name: opts.name,
      });
      print(
        out(),
        `created ${role} key ${created.id}${tenant ? ` for tenant ${tenant}` : ''}\n\n  ${created.key}\n\nStore it now: it is not shown again.`,
        created,
      );
    });

  key
    .command('list [tenant]')
    .description('list keys (never the keys themselves)')
    .action(async (tenant: string | undefined) => {
      const rows = await listApiKeys(await ctx().db(), tenant ? assertTenantId(tenant) : undefined);
      print(out(), table(rows as unknown as Record<string, unknown>[], ['id', 'tenant', 'role', 'name', 'createdAt', 'revokedAt', 'lastUsedAt']), rows);
    });

  key
    .command('revoke <id>')
    .description('revoke a key; services stop accepting it within the auth cache TTL')
    .action(async (id: string) => {
      const revoked = await revokeApiKey(await ctx().db(), id);
      if (!revoked) throw new Error(`no active key ${id}`);
      print(out(), `revoked ${id}`, { id, revoked });
    });
}
