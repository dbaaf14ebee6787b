import { chmod, mkdir, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import {
  createNatsAuthority,
  mintServiceCreds,
  mintTenantCreds,
  natsServerAuthConfig,
  tenantInboxPrefix,
} from '@switchyard/nats';
import { envString } from '@switchyard/runtime';
import { assertTenantId } from '@switchyard/schema';
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

/** Mints a tenant's `.creds`; writes it (mode 0600) when `outFile` is given, else returns it to print once. */
export async function issueTenantCreds(
  tenant: string,
  signing: NatsSigning,
  outFile?: string,
): Promise<{ creds: string; file?: string }> {
  const creds = await mintTenantCreds(assertTenantId(tenant), signing);
  if (outFile === undefined) return { creds };
  await writeFile(outFile, creds, { mode: 0o600 });
  return { creds, file: outFile };
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
      const issued = await issueTenantCreds(id, signing, opts.out);
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
}
