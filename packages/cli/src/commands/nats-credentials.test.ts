import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool, deleteTenant, forgetMediaPurges, natsUsersOf } from '@switchyard/db';
import { tenantInboxPrefix } from '@switchyard/nats';
import { connect, credsAuthenticator, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// By path: the CLI has no dependency on @switchyard/testing, and this fixture needs only node.
import { startNatsServer, type NatsServer } from '../../../testing/src/nats-server.ts';
import { loadCliConfig } from '../config.ts';
import { CliContext } from '../context.ts';
import { runCliJson } from '../test-support.ts';
import { registerNatsCredentialsCommands } from './nats-credentials.ts';
import { registerTenantCommands } from './tenant.ts';

const DATABASE_URL =
  process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/switchyard_test';
const tenant = `cli${randomBytes(5).toString('hex')}`;
let dir: string;
let server: NatsServer | undefined;
let context: CliContext | undefined;

function run(ctx: () => CliContext, ...args: string[]): Promise<unknown> {
  return runCliJson(ctx, [registerNatsCredentialsCommands, registerTenantCommands], args);
}

function envFile(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((line) => line.split('=', 2) as [string, string]),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'switchyard-nats-creds-'));
});
afterAll(async () => {
  await context?.close();
  const pool = createPool({ url: DATABASE_URL, max: 1, applicationName: 'cli-nats-creds-test' });
  await deleteTenant(pool, tenant);
  await forgetMediaPurges(pool, tenant);
  await pool.end();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('switchyard nats-credentials and tenant create', () => {
  it('init writes a server config and secrets; tenant create mints credentials that publish only to the tenant prefix', async () => {
    const noContext = (): CliContext => {
      throw new Error('init needs no connection');
    };
    await run(noContext, 'nats-credentials', 'init', '--dir', dir);
    expect((await stat(join(dir, 'signing.env'))).mode & 0o077).toBe(0);
    await expect(run(noContext, 'nats-credentials', 'init', '--dir', dir)).rejects.toThrow(
      /exists/,
    );

    server = await startNatsServer({ config: await readFile(join(dir, 'auth.conf'), 'utf8') });
    const signing = envFile(await readFile(join(dir, 'signing.env'), 'utf8'));
    context = new CliContext(
      loadCliConfig({
        NATS_URL: server.url,
        DATABASE_URL,
        NATS_CREDS: join(dir, 'services.creds'),
        ...signing,
      }),
    );
    const live = context;
    const credsFile = join(dir, `${tenant}.creds`);
    const created = (await run(
      () => live,
      'tenant',
      'create',
      tenant,
      '--creds-out',
      credsFile,
    )) as { nats_creds_file?: string };
    expect(created.nats_creds_file).toBe(credsFile);
    expect((await stat(credsFile)).mode & 0o077).toBe(0);

    const nc: NatsConnection = await connect({
      servers: server.url,
      authenticator: credsAuthenticator(await readFile(credsFile)),
      inboxPrefix: tenantInboxPrefix(tenant),
    });
    try {
      const ack = await nc
        .jetstream()
        .publish(`v1.ingest.${tenant}.phone-1.message.received`, new TextEncoder().encode('{}'));
      expect(ack.stream).toBe('INGEST');
      await expect(
        nc
          .jetstream()
          .publish('v1.ingest.someone-else.phone-1.message.received', new Uint8Array(), {
            timeout: 1_000,
          }),
      ).rejects.toThrow();
    } finally {
      await nc.close();
    }
  });
  it('revoke cuts every credential minted for the tenant: once nats-server reloads auth.conf it drops and refuses them, and only them', async () => {
    const live = context!;
    const url = server!.url;
    const credsFile = join(dir, `${tenant}.creds`);
    // Connected before the revocation, and trying to stay connected.
    const open = await connect({ servers: url, authenticator: credsAuthenticator(await readFile(credsFile)), inboxPrefix: tenantInboxPrefix(tenant), maxReconnectAttempts: 3, reconnectTimeWait: 100 });
    const closed = open.closed();
    const before = await natsUsersOf(await live.db(), tenant);
    expect(before).toHaveLength(1);
    expect(before[0]!.revokedAt).toBeNull();
    const oldAuth = await readFile(join(dir, 'auth.conf'), 'utf8');

    const revoked = (await run(() => live, 'nats-credentials', 'revoke', tenant, '--dir', dir)) as { revoked: string[] };
    expect(revoked.revoked).toEqual([before[0]!.publicKey]);
    expect((await natsUsersOf(await live.db(), tenant))[0]!.revokedAt).not.toBeNull();
    const newAuth = await readFile(join(dir, 'auth.conf'), 'utf8');
    expect(newAuth).not.toBe(oldAuth);
    expect((await stat(join(dir, 'keys.json'))).mode & 0o077).toBe(0);
    // Nothing left to revoke: nothing rewritten.
    expect(((await run(() => live, 'nats-credentials', 'revoke', tenant, '--dir', dir)) as { revoked: string[] }).revoked).toEqual([]);
    expect(await readFile(join(dir, 'auth.conf'), 'utf8')).toBe(newAuth);

    await server!.reload(newAuth);
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the revoked connection stayed open')), 10_000))]);
    expect(open.isClosed()).toBe(true);
    await expect(connect({ servers: url, authenticator: credsAuthenticator(await readFile(credsFile)), reconnect: false })).rejects.toThrow(/authorization/i);
    // The services' user and a credential minted for the tenant after the revocation still connect.
    const services = await connect({ servers: url, authenticator: credsAuthenticator(await readFile(join(dir, 'services.creds'))) });
    await services.close();
    const fresh = join(dir, `${tenant}-2.creds`);
    await run(() => live, 'nats-credentials', 'tenant', tenant, '--out', fresh);
    const again = await connect({ servers: url, authenticator: credsAuthenticator(await readFile(fresh)), inboxPrefix: tenantInboxPrefix(tenant) });
    try {
      const ack = await again.jetstream().publish(`v1.ingest.${tenant}.phone-1.message.received`, new TextEncoder().encode('{}'));
      expect(ack.stream).toBe('INGEST');
    } finally {
      await again.close();
    }
    expect((await natsUsersOf(await live.db(), tenant)).filter((u) => u.revokedAt === null)).toHaveLength(1);

    // A reload that changes the account JWT pauses JetStream in the account for a moment (~2 s
    // measured on nats-server 2.12.15): wait until it answers again.
    const js = (await live.nc()).jetstream();
    const deadline = Date.now() + 15_000;
    for (;;) {
      // This private server's INGEST: a probe stored is the stream taking writes again.
      const ok = await js.publish(`v1.ingest.${tenant}.probe.message.received`, new TextEncoder().encode('{}'), { timeout: 1_000 }).then(() => true, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error('JetStream did not answer again after the reload');
      await new Promise((r) => setTimeout(r, 200));
    }
    // Deleting the tenant says that one is still valid; revoking it then works on the deleted tenant.
    const deleted = (await run(() => live, 'tenant', 'delete', tenant, '--yes')) as { deleted: boolean; nats_credentials_still_valid: number };
    expect(deleted).toMatchObject({ deleted: true, nats_credentials_still_valid: 1 });
    expect(((await run(() => live, 'nats-credentials', 'revoke', tenant, '--dir', dir)) as { revoked: string[] }).revoked).toHaveLength(1);
  });
});
