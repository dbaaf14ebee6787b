import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from './config.ts';
import { envInt } from './env-helpers.ts';
import { DependencyUnreachableError } from './errors.ts';
import { createLogger } from './logger.ts';
import { runService } from './main.ts';
import { LogSink } from './test-log-sink.ts';

function harness() {
  const exits: number[] = [];
  const stderr: string[] = [];
  const sink = new LogSink();
  const signals = new EventEmitter();
  const exited = new Promise<number>((resolve) => {
    signals.on('exit-called', resolve);
  });
  return {
    exits,
    stderr,
    sink,
    signals,
    exited,
    options: {
      service: 'router',
      logger: createLogger({ service: 'router', destination: sink }),
      exit: (code: number) => {
        exits.push(code);
        signals.emit('exit-called', code);
      },
      stderr: { write: (text: string) => stderr.push(text) },
      signals,
    },
  };
}

describe('runService', () => {
  it('prints a ConfigError without a stack and exits 1', async () => {
    const h = harness();
    const start = async () => {
      loadConfig(z.object({ PORT: envInt({ min: 1, max: 65535 }) }), { PORT: 'abc' }, { service: 'router' });
      return { stop: async () => {} };
    };
    await runService({ ...h.options, start });
    expect(h.exits).toEqual([1]);
    expect(h.stderr.join('')).toBe('invalid configuration for router:\n  PORT: expected integer 1-65535 (got "abc")\n');
    expect(h.sink.lines).toEqual([]);
  });

  it('prints an unreachable dependency as its friendly message', async () => {
    const h = harness();
    const start = async () => {
      throw new DependencyUnreachableError({ dependency: 'nats', url: 'nats://127.0.0.1:4222' });
    };
    await runService({ ...h.options, start });
    expect(h.exits).toEqual([1]);
    expect(h.stderr.join('')).toContain('Start it with: nats-server -js');
    expect(h.stderr.join('')).not.toContain('    at ');
  });

  it('logs any other startup error with its stack', async () => {
    const h = harness();
    await runService({ ...h.options, start: async () => Promise.reject(new TypeError('boom')) });
    expect(h.exits).toEqual([1]);
    const record = h.sink.records.find((line) => line.msg === 'startup failed');
    expect(record).toMatchObject({ err: { type: 'TypeError', message: 'boom' } });
    expect(JSON.stringify(record)).toContain('    at ');
  });

  it('stops on SIGTERM and exits 0; a second signal forces exit 1', async () => {
    const h = harness();
    let stopped = false;
    let release: () => void = () => {};
    const stop = () =>
      new Promise<void>((resolve) => {
        release = () => {
          stopped = true;
          resolve();
        };
      });
    await runService({ ...h.options, start: async () => ({ stop }) });
    expect(h.exits).toEqual([]);
    h.signals.emit('SIGTERM', 'SIGTERM');
    h.signals.emit('SIGINT', 'SIGINT');
    expect(h.exits).toEqual([1]);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(true);
    expect(h.exits).toEqual([1, 0]);
  });

  it('exits 0 after a clean stop', async () => {
    const h = harness();
    await runService({ ...h.options, start: async () => ({ stop: async () => {} }) });
    h.signals.emit('SIGTERM', 'SIGTERM');
    expect(await h.exited).toBe(0);
  });
});
