import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeEnv, loadConfig } from './config.ts';
import { envDurationList, envInt, envUrl } from './env-helpers.ts';
import { databaseEnv, httpEnv, logEnv, natsEnv, shutdownEnv, tracingEnv } from './env-fragments.ts';
import { ConfigError } from './errors.ts';

const schema = z.object({
  ...natsEnv,
  ...databaseEnv,
  ...httpEnv(8082),
  ...logEnv,
  ...tracingEnv,
  ...shutdownEnv,
  RETRY_SCHEDULE: envDurationList('0s,10s,30s,2m').describe('Delays between retries'),
  BATCH_SIZE: envInt({ min: 1, max: 500 }).describe('Events per batch'),
});

describe('loadConfig', () => {
  it('applies defaults and parses typed values', () => {
    const config = loadConfig(schema, { BATCH_SIZE: '50', LOG_PRETTY: 'yes', HTTP_PORT: '' });
    expect(config).toMatchObject({
      NATS_URL: 'nats://127.0.0.1:4222',
      NATS_CONNECT_TIMEOUT: 10_000,
      DATABASE_POOL_MAX: 10,
      HTTP_HOST: '0.0.0.0',
      HTTP_PORT: 8082,
      LOG_LEVEL: 'info',
      LOG_PRETTY: true,
      SHUTDOWN_TIMEOUT: 30_000,
      RETRY_SCHEDULE: [0, 10_000, 30_000, 120_000],
      BATCH_SIZE: 50,
    });
    expect(config.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
  });

  it('lists every bad variable in one message, one per line', () => {
    const env = {
      NATS_URL: 'foo',
      HTTP_PORT: '70000',
      LOG_LEVEL: 'loud',
      SHUTDOWN_TIMEOUT: '30',
      DATABASE_URL: 'mysql://root:hunter2@db/x',
    };
    let caught: unknown;
    try {
      loadConfig(schema, env, { service: 'router' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.nonRetryable).toBe(true);
    expect(error.message.split('\n')).toEqual([
      'invalid configuration for router:',
      '  NATS_URL: must be a nats:// or tls:// or ws:// or wss:// URL (got "foo")',
      '  DATABASE_URL: must be a postgres:// or postgresql:// URL (got "mysql://root:***@db/x")',
      '  HTTP_PORT: expected integer 0-65535 (got "70000")',
      '  LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace (got "loud")',
      '  SHUTDOWN_TIMEOUT: expected a duration like 250ms, 10s, 2m, 1h or 7d (got "30")',
      '  BATCH_SIZE: is required but not set',
    ]);
    expect(error.issues.map((issue) => issue.variable)).toContain('BATCH_SIZE');
  });

  it('reports cross-field rules under (config)', () => {
    const refined = z
      .object({ MIN: envInt({ default: 1 }), MAX: envInt({ default: 2 }) })
      .superRefine((value, ctx) => {
        if (value.MIN > value.MAX) ctx.addIssue({ code: 'custom', message: 'MIN must not exceed MAX', path: ['MIN'] });
      });
    expect(() => loadConfig(refined, { MIN: '5' })).toThrow('  MIN: MIN must not exceed MAX');
  });
});

describe('env helpers', () => {
  it('parses durations and duration lists', () => {
    const durations = z.object({
      A: envDurationList(),
      B: envUrl(['https']),
    });
    expect(loadConfig(durations, { A: '250ms, 1.5s,1h,7d', B: 'https://x.test' }).A).toEqual([
      250, 1_500, 3_600_000, 604_800_000,
    ]);
    expect(() => loadConfig(durations, { A: '1s,,2s', B: 'https://x.test' })).toThrow(/A: expected comma-separated/);
  });
});

describe('describeEnv', () => {
  it('lists names, descriptions and raw defaults', () => {
    const docs = describeEnv(schema);
    expect(docs).toContainEqual({
      name: 'NATS_CONNECT_TIMEOUT',
      description: 'How long startup waits to connect to NATS',
      default: '10s',
      required: false,
    });
    expect(docs).toContainEqual({ name: 'BATCH_SIZE', description: 'Events per batch', default: undefined, required: true });
    expect(docs.find((doc) => doc.name === 'OTEL_EXPORTER_OTLP_ENDPOINT')).toMatchObject({ required: false, default: undefined });
    expect(docs.find((doc) => doc.name === 'HTTP_PORT')?.default).toBe('8082');
  });
});
