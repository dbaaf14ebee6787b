import { describe, expect, it } from 'vitest';
import { IllegalTransitionError, Lifecycle, type LifecycleState } from './lifecycle.ts';

describe('Lifecycle', () => {
  it('walks STARTING → RUNNING → DRAINING → STOPPED and reports each transition', () => {
    const lifecycle = new Lifecycle();
    const seen: string[] = [];
    lifecycle.onTransition((to, from) => seen.push(`${from}→${to}`));
    expect(lifecycle.state).toBe('STARTING');
    lifecycle.transition('RUNNING');
    lifecycle.transition('DRAINING');
    lifecycle.transition('STOPPED');
    expect(lifecycle.state).toBe('STOPPED');
    expect(seen).toEqual(['STARTING→RUNNING', 'RUNNING→DRAINING', 'DRAINING→STOPPED']);
  });

  it('lets a failed or interrupted startup go straight to STOPPED or DRAINING', () => {
    const failed = new Lifecycle();
    failed.transition('STOPPED');
    expect(failed.state).toBe('STOPPED');
    const interrupted = new Lifecycle();
    interrupted.transition('DRAINING');
    expect(interrupted.state).toBe('DRAINING');
  });

  const illegal: [LifecycleState[], LifecycleState][] = [
    [['RUNNING'], 'STARTING'],
    [['RUNNING'], 'STOPPED'],
    [['RUNNING'], 'RUNNING'],
    [['RUNNING', 'DRAINING'], 'RUNNING'],
    [['STOPPED'], 'RUNNING'],
    [['STOPPED'], 'DRAINING'],
  ];
  it.each(illegal)('after %j refuses → %s', (path, to) => {
    const lifecycle = new Lifecycle();
    for (const state of path) lifecycle.transition(state);
    const before = lifecycle.state;
    expect(() => lifecycle.transition(to)).toThrow(IllegalTransitionError);
    expect(lifecycle.state).toBe(before);
  });
});
