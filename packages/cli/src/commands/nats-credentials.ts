import { chmod, mkdir, readFile, rename, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { markNatsUsersRevoked, natsUsersOf, recordNatsUser } from '@switchyard/db';
import {
  createNatsAuthority,
  mintServiceCreds,
  mintTenantUser,
  natsServerAuthConfig,
  revokeUsers,
  tenantInboxPrefix,
  type NatsAuthority,
} from '@switchyard/nats';
import { envString } from '@switchyard/runtime';
import { assertTenantId } from '@switchyard/schema';
import type pg from 'pg';
import type { CliContext } from '../context.ts';
import { print, type Output } from '../output.ts';

/**
 * What the CLI needs to mint NATS user credentials (docs/operations.md, "NATS credentials").
 * Both come from `nats-credentials init` (signing.env). Unset: tenants get no NATS credentials.
 */
export const natsSigningEnv = {
  /** Public key (`A…`) of the SWITCHYARD account that holds the streams. */
  NATS_ACCOUNT: envString()
    .optional()
    .describe('Public key of the SWITCHYARD NATS account (from `nats-credentials init`)'),
  /** Seed (`SA…`) of the account's signing key: it mints tenant credentials, so keep it secret. */
  NATS_ACCOUNT_SIGNING_SEED: envString()
    .optional()
    .describe(
      'Seed of the NATS account signing key; `tenant create` mints tenant credentials with it',
    ),
};

export interface NatsSigning {
  account: string;
  signingSeed: string;
}

type SigningConfig = z.infer<z.ZodObject<typeof natsSigningEnv>>;

/** The signing material from the CLI config, or undefined when NATS auth is not in use. */
export function natsSigningFrom(parsed: SigningConfig): NatsSigning | undefined {
  if (parsed.NATS_ACCOUNT === undefined && parsed.NATS_ACCOUNT_SIGNING_SEED === undefined)
    return undefined;
  if (parsed.NATS_ACCOUNT === undefined || parsed.NATS_ACCOUNT_SIGNING_SEED === undefined) {
    throw new Error(
      'set both NATS_ACCOUNT and NATS_ACCOUNT_SIGNING_SEED (from `switchyard nats-credentials init`), or neither',
    );
  }
  return { account: parsed.NATS_ACCOUNT, signingSeed: parsed.NATS_ACCOUNT_SIGNING_SEED };
}

/**
 * Mints a tenant's `.creds` and records the user's public key in Postgres (`nats_users`, so
 * `nats-credentials revoke` can name it later); writes the file (mode 0600) when `outFile` is
 * given, else returns it to print once. Recorded before it is handed out: a credential nobody can
 * revoke by its key is never issued.
 */
export async function issueTenantCreds(
  tenant: string,
  signing: NatsSigning,
  db: pg.Pool,
  outFile?: string,
): Promise<{ creds: string; public_key: string; file?: string }> {
  const minted = await mintTenantUser(assertTenantId(tenant), signing);
  await recordNatsUser(db, tenant, minted.publicKey);
  if (outFile === undefined) return { creds: minted.creds, public_key: minted.publicKey };
  await writeFile(outFile, minted.creds, { mode: 0o600 });
  return { creds: minted.creds, public_key: minted.publicKey, file: outFile };
}

/** keys.json as `init` wrote it; only the fields revocation needs are checked. */
async function readAuthority(path: string): Promise<NatsAuthority> {
  const parsed = z
    .object({
      operator: z.object({ publicKey: z.string(), seed: z.string().startsWith('SO'), jwt: z.string() }),
      system: z.object({ publicKey: z.string(), seed: z.string(), jwt: z.string() }),
      account: z.object({ publicKey: z.string(), seed: z.string(), jwt: z.string(), signingSeed: z.string(), signingPublicKey: z.string() }),
    })
    .safeParse(JSON.parse(await readFile(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path} is not the keys.json \`nats-credentials init\` wrote: ${parsed.error.message}`);
  return parsed.data;
}

/** Replaces a file in one step (write a temporary file, then rename over the old one). */
async function replaceFile(path: string, content: string, mode: number): Promise<void> {
  await writeFile(`${path}.tmp`, content, { mode });
  await rename(`${path}.tmp`, path);
}

export function tenantCredsHowTo(tenant: string): string {
  return [
    `Publish with: nats --creds ${tenant}.creds --inbox-prefix ${tenantInboxPrefix(tenant)} pub --jetstream v1.ingest.${tenant}.<instance>.<type> '<envelope JSON>' -H Nats-Msg-Id:<event id>`,
    `These credentials may publish only to v1.ingest.${tenant}.> and receive replies only on ${tenantInboxPrefix(tenant)}.>.`,
  ].join('\n');
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export function registerNatsCredentialsCommands(
  program: Command,
  ctx: () => CliContext,
  out: () => Output,
): void {
  const creds = program
    .command('nats-credentials')
    .description('NATS JWT auth: create the operator and account, mint user credentials');

  creds
    .command('init')
    .description(
      'create an operator, a system account and the SWITCHYARD account; write the server config and service credentials',
    )
    .requiredOption(
      '--dir <dir>',
      'where to write auth.conf, services.creds, signing.env and keys.json',
    )
    .option(
      '--force',
      'overwrite an existing auth.conf (every credential minted before stops working)',
    )
    .action(async (opts: { dir: string; force?: boolean }) => {
      if (!opts.force && (await exists(join(opts.dir, 'auth.conf')))) {
        throw new Error(
          `${join(opts.dir, 'auth.conf')} exists; a new operator would invalidate every credential. Use --force to replace it.`,
        );
      }
      await mkdir(opts.dir, { recursive: true });
      const authority = await createNatsAuthority();
      const signing = {
        account: authority.account.publicKey,
        signingSeed: authority.account.signingSeed,
      };
      const secret = { mode: 0o600 } as const;
      // auth.conf is public material (JWTs and public keys); everything else is secret.
      await writeFile(join(opts.dir, 'auth.conf'), natsServerAuthConfig(authority));
      await writeFile(
        join(opts.dir, 'services.creds'),
        await mintServiceCreds('switchyard-services', signing),
        secret,
      );
      await writeFile(
        join(opts.dir, 'signing.env'),
        `NATS_ACCOUNT=${signing.account}\nNATS_ACCOUNT_SIGNING_SEED=${signing.signingSeed}\n`,
        secret,
      );
      await writeFile(
        join(opts.dir, 'keys.json'),
        `${JSON.stringify(authority, null, 2)}\n`,
        secret,
      );
      await chmod(join(opts.dir, 'keys.json'), 0o600);
      print(
        out(),
        [
          `wrote ${opts.dir}/auth.conf        include it in nats-server.conf (deploy/nats/nats-server-auth.conf does)`,
          `wrote ${opts.dir}/services.creds   NATS_CREDS for every service`,
          `wrote ${opts.dir}/signing.env      NATS_ACCOUNT and NATS_ACCOUNT_SIGNING_SEED for the CLI (tenant create)`,
          `wrote ${opts.dir}/keys.json        operator and account seeds: store offline, needed only to rotate`,
          `account ${signing.account}`,
        ].join('\n'),
        { dir: opts.dir, account: signing.account, operator: authority.operator.publicKey },
      );
    });

  creds
    .command('tenant <id>')
    .description(
      'mint new NATS credentials for a tenant (e.g. the first were lost); earlier ones stay valid',
    )
    .option('--out <file>', 'write the .creds file here (mode 0600) instead of printing it')
    .action(async (id: string, opts: { out?: string }) => {
      const signing = natsSigningFrom(ctx().config);
      if (signing === undefined)
        throw new Error(
          'NATS_ACCOUNT and NATS_ACCOUNT_SIGNING_SEED are not set (see `switchyard nats-credentials init`)',
        );
      const issued = await issueTenantCreds(id, signing, await ctx().db(), opts.out);
      print(
        out(),
        issued.file !== undefined
          ? `wrote ${issued.file}\n${tenantCredsHowTo(id)}`
          : `${issued.creds}\n${tenantCredsHowTo(id)}`,
        {
          tenant: id,
          ...issued,
        },
      );
    });

  creds
    .command('revoke <id>')
    .description(
      "revoke every NATS credential minted for a tenant (e.g. after `tenant delete`, or a leak): rewrites the account JWT in auth.conf and keys.json; reload nats-server to apply",
    )
    .requiredOption('--dir <dir>', 'the directory `nats-credentials init` wrote (keys.json is read, auth.conf and keys.json rewritten)')
    .action(async (id: string, opts: { dir: string }) => {
      assertTenantId(id);
      const keysPath = join(opts.dir, 'keys.json');
      const authority = await readAuthority(keysPath);
      const db = await ctx().db();
      const valid = await natsUsersOf(db, id, { unrevoked: true });
      if (valid.length === 0) {
        print(out(), `tenant ${id} has no unrevoked NATS credentials on record; nothing written`, { tenant: id, revoked: [] });
        return;
      }
      const at = new Date();
      const keys = valid.map((user) => user.publicKey);
      const jwt = await revokeUsers(authority, keys, at);
      const updated: NatsAuthority = { ...authority, account: { ...authority.account, jwt } };
      // The files first, the rows after: a rerun after a failure between the two revokes again
      // (idempotent) instead of leaving a key marked revoked that the server still accepts.
      await replaceFile(keysPath, `${JSON.stringify(updated, null, 2)}\n`, 0o600);
      await replaceFile(join(opts.dir, 'auth.conf'), natsServerAuthConfig(updated), 0o644);
      await markNatsUsersRevoked(db, keys, at);
      print(
        out(),
        [
          `revoked ${keys.length} NATS credential(s) of tenant ${id} as of ${at.toISOString()}`,
          `rewrote ${opts.dir}/auth.conf and ${opts.dir}/keys.json`,
          'apply it: give nats-server the new auth.conf and reload it (`nats-server --signal reload`, or roll the NATS pods)',
        ].join('\n'),
        { tenant: id, revoked: keys, revoked_at: at.toISOString(), dir: opts.dir },
      );
    });
}
