import type { NatsConnection } from 'nats';
import type pg from 'pg';
import { createPool, ensureDatabase, migrateControl } from '@switchyard/db';
import { connectNats, ensureStreams } from '@switchyard/nats';
import { createLogger } from '@switchyard/runtime';
import type { CliConfig } from './config.ts';

/**
 * Lazily opened connections for one CLI invocation: a command that only needs Postgres never
 * waits on NATS, and everything opened is closed on the way out.
 */
export class CliContext {
  private pool?: pg.Pool;
  private nats?: NatsConnection;
  readonly logger = createLogger({ service: 'cli', level: 'warn', pretty: false });

  constructor(readonly config: CliConfig) {}

  async db(): Promise<pg.Pool> {
    if (!this.pool) {
      await ensureDatabase(this.config.DATABASE_URL);
      this.pool = createPool({ url: this.config.DATABASE_URL, max: 2, applicationName: 'switchyard-cli' });
      await migrateControl(this.pool);
    }
    return this.pool;
  }

  async nc(): Promise<NatsConnection> {
    if (!this.nats) {
      this.nats = await connectNats({
        url: this.config.NATS_URL,
        name: 'switchyard-cli',
        logger: this.logger,
        timeoutMs: this.config.NATS_CONNECT_TIMEOUT,
        ...(this.config.NATS_CREDS !== undefined ? { credsFile: this.config.NATS_CREDS } : {}),
      });
      await ensureStreams(await this.nats.jetstreamManager());
    }
    return this.nats;
  }

  async close(): Promise<void> {
    await this.nats?.drain();
    await this.pool?.end();
  }
}
