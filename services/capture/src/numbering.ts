import { Coalescer, type TenantQueryable } from '@switchyard/db';
import { numberBatches, type NumberRequest, type NumberResult } from './outbox.ts';

/** The replica's seq numbering, shared by its instances' ingest publishers (app.ts makes one). */
export interface Numbering {
  /** `numberBatch` for `request.instance`, in a statement shared with the tenant's other instances. */
  number(db: TenantQueryable, request: NumberRequest): Promise<NumberResult>;
}

/** Most instances numbered by one statement. */
const MAX_INSTANCES_PER_STATEMENT = 200;

/**
 * Each instance's writer numbers every batch it publishes (outbox.ts, `numberBatch`): at the
 * rates WhatsApp numbers send, a batch is an event or two, so that is a statement, a round trip
 * and a commit per event or two, per number. Here the batches a tenant's instances number in the
 * same turn of the event loop, or while the tenant's previous statement is in flight, go as one
 * statement (`numberBatches`), each answered as if alone. One statement per tenant is in flight
 * at a time; the schema, and so the statement, is the tenant's.
 */
export function createNumbering(): Numbering {
  const byTenant = new Map<string, Coalescer<NumberRequest, NumberResult>>();
  return {
    number(db, request) {
      let coalescer = byTenant.get(db.tenant);
      if (coalescer === undefined) {
        // Every handle of a tenant in this replica uses the same pool, so the first one will do.
        coalescer = new Coalescer({ run: (requests) => numberBatches(db, requests), keyOf: (r) => r.instance, maxBatch: MAX_INSTANCES_PER_STATEMENT });
        byTenant.set(db.tenant, coalescer);
      }
      return coalescer.submit(request);
    },
  };
}
