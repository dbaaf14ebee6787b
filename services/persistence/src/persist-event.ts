import type { Handler } from '@switchyard/nats';
import { persistBatch, type PersistBatchDeps } from './persist-batch.ts';

export type PersistEventDeps = PersistBatchDeps;

/**
 * One message at a time through the batch path: for callers that hold a single message (and
 * tests of a single outcome). The service itself consumes with `persistBatch`.
 */
export function persistEvent(deps: PersistEventDeps): Handler {
  const batch = persistBatch(deps);
  return async (msg) => {
    const [outcome] = await batch.commit(await batch.prepare([msg]), [msg]);
    if (outcome === undefined) throw new Error('batch handler answered no outcome');
    return outcome;
  };
}
