import { Counter, Gauge } from 'prom-client';
import type { Registry } from '@switchyard/runtime';

export interface SessionMetrics {
  /** Sockets this replica holds open, by tenant. */
  open: Gauge<'tenant'>;
  /** Socket closes by DisconnectReason name and what the manager did about it. */
  disconnects: Counter<'tenant' | 'reason' | 'action'>;
  /** Instance leases this replica holds. */
  leasesHeld: Gauge;
  /** Leases lost (renewal failed or late: the socket was closed at once) or released (drain, rebalance). */
  leaseChanges: Counter<'change'>;
}

export function sessionMetrics(registry: Registry): SessionMetrics {
  return {
    open: new Gauge({
      name: 'capture_sessions_open',
      help: 'WhatsApp sockets this replica holds open',
      labelNames: ['tenant'],
      registers: [registry],
    }),
    disconnects: new Counter({
      name: 'capture_session_disconnects_total',
      help: 'Socket closes by DisconnectReason and the action taken (reconnect_now, backoff, stop)',
      labelNames: ['tenant', 'reason', 'action'],
      registers: [registry],
    }),
    leasesHeld: new Gauge({
      name: 'capture_leases_held',
      help: 'Instance leases (one socket per instance fleet-wide) this replica holds',
      registers: [registry],
    }),
    leaseChanges: new Counter({
      name: 'capture_lease_changes_total',
      help: 'Lease claims, releases (drain, rebalance) and losses (renewal failed or late)',
      labelNames: ['change'],
      registers: [registry],
    }),
  };
}
