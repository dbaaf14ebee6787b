import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';
import { ShutdownController } from './shutdown.ts';
import { LogSink } from './test-log-sink.ts';

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function setup(timeoutMs = 5_000) {
  const sink = new LogSink();
  const logger = createLogger({ service: 'test', level: 'debug', destination: sink });
  return { sink, controller: new ShutdownController({ logger, timeoutMs }) };
}

describe('ShutdownController', () => {
  it('runs phases in order, steps of a phase in parallel, and keeps going past a failing step', async () => {
    const { sink, controller } = setup();
    const events: string[] = [];
    const step = (name: string, ms: number, fail = false) => async () => {
      events.push(`start ${name}`);
      await delay(ms);
      events.push(`end ${name}`);
      if (fail) throw new Error(`${name} broke`);
    };
    controller.register('close', 'postgres', step('close', 1));
    controller.register('drain', 'consumer', step('drain-slow', 30));
    controller.register('drain', 'http', step('drain-fast', 5, true));
    controller.register('stop-intake', 'nats', step('intake', 5));

    controller.lifecycle.transition('RUNNING');
    const report = await controller.shutdown();

    expect(events).toEqual([
      'start intake',
      'end intake',
      'start drain-slow',
      'start drain-fast',
      'end drain-fast',
      'end drain-slow',
      'start close',
      'end close',
    ]);
    expect(report).toEqual({ completed: true, failed: ['drain/http'], unfinished: [] });
    expect(controller.lifecycle.state).toBe('STOPPED');
    const failure = sink.records.find((record) => record.msg === 'shutdown step failed');
    expect(failure).toMatchObject({ step: 'drain/http', err: { message: 'drain-fast broke' } });
  });

  it('is idempotent', async () => {
    const { controller } = setup();
    let runs = 0;
    controller.register('close', 'once', async () => {
      runs += 1;
    });
    const [a, b] = await Promise.all([controller.shutdown(), controller.shutdown()]);
    expect(a).toBe(b);
    expect(runs).toBe(1);
  });

  it('gives up after the timeout and names what did not finish', async () => {
    const { sink, controller } = setup(50);
    controller.register('drain', 'stuck', () => new Promise<void>(() => {}));
    controller.register('close', 'never-reached', async () => {});
    const report = await controller.shutdown();
    expect(report.completed).toBe(false);
    expect(report.unfinished).toEqual(['drain/stuck', 'close/never-reached']);
    expect(sink.records.find((record) => record.msg === 'shutdown timed out')).toMatchObject({
      unfinished: ['drain/stuck', 'close/never-reached'],
    });
    expect(controller.lifecycle.state).toBe('STOPPED');
  });
});
