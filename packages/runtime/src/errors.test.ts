import { describe, expect, it } from 'vitest';
import { ConfigError, DependencyUnreachableError, SwitchyardError, isNonRetryable } from './errors.ts';

describe('errors', () => {
  it('formats an unreachable dependency as one paragraph without the password', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const error = new DependencyUnreachableError({
      dependency: 'postgres',
      url: 'postgres://app:hunter2@127.0.0.1:5432/switchyard',
      cause,
    });
    expect(error.name).toBe('DependencyUnreachableError');
    expect(error.url).toBe('postgres://app:***@127.0.0.1:5432/switchyard');
    expect(error.message).toBe(
      'cannot reach Postgres at postgres://app:***@127.0.0.1:5432/switchyard ' +
        '(ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432). Is it running? Start it with: ' +
        'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
    );
    expect(error.message).not.toContain('\n');
    expect(error.cause).toBe(cause);
    expect(new DependencyUnreachableError({ dependency: 'nats', url: 'nats://127.0.0.1:4222' }).hint).toBe('nats-server -js');
  });

  it('classifies retryability through the cause chain', () => {
    const config = new ConfigError('bad', []);
    expect(isNonRetryable(config)).toBe(true);
    expect(isNonRetryable(new Error('wrapped', { cause: new Error('mid', { cause: config }) }))).toBe(true);
    expect(isNonRetryable(new SwitchyardError('flaky', { code: 'X' }))).toBe(false);
    expect(isNonRetryable(new DependencyUnreachableError({ dependency: 'nats', url: 'nats://x' }))).toBe(false);
    expect(isNonRetryable('string')).toBe(false);
    const cyclic: { nonRetryable?: boolean; cause?: unknown } = {};
    cyclic.cause = cyclic;
    expect(isNonRetryable(cyclic)).toBe(false);
  });
});
