import { webhookDurableName, webhookEndpointFilter } from '@switchyard/schema';
import { listEndpoints, setEndpointEnabled, type Endpoint, type Pool } from '@switchyard/db';
import {
  awaitTakeover,
  deleteDurableConsumer,
  startConsumer,
  WEBHOOKS_STREAM,
  type RunningConsumer,
} from '@switchyard/nats';
import type { Logger, Registry } from '@switchyard/runtime';
import type { JetStreamClient, JetStreamManager } from 'nats';
import { CircuitBreaker } from './circuit-breaker.ts';
import { EndpointConnections } from './endpoint-connections.ts';
import type { WebhookDispatchConfig } from './config.ts';
import type { DeliveryLog } from './delivery-log.ts';
import { deliverToEndpoint, SERVICE } from './deliver-endpoint.ts';
import { InstanceLanes } from './instance-lanes.ts';
import { RateLimiter, Semaphore } from './limiter.ts';
import { BREAKER_STATE_VALUE, type WebhookMetrics } from './metrics.ts';

export interface EndpointWorkersOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  pool: Pool;
  logger: Logger;
  registry: Registry;
  metrics: WebhookMetrics;
  config: WebhookDispatchConfig;
  log: DeliveryLog;
  /** The tenants this replica serves (those with a fan-out consumer). */
  tenants(): string[];
  /** Whether this replica owns the tenant now (its partition's lease); only the owner delivers. */
  owns(tenant: string): boolean;
  /** Whether its previous owner handed the tenant's partition over cleanly (see partitionGate). */
  handedOver(tenant: string): boolean;
  /** An endpoint changed here (e.g. disabled after a 410): drop cached copies. */
  onEndpointChanged(tenant: string): void;
  stream?: string;
}

interface Worker {
  tenant: string;
  current: { endpoint: Endpoint };
  abort: AbortController;
  /** Resolves with the consumer once the takeover fence let it start; undefined if stopped first. */
  consumer: Promise<RunningConsumer | undefined>;
  /** The consumer, once started. */
  running?: RunningConsumer;
  connections: EndpointConnections;
}

// Never let the consume loop dead-letter by count: the handler owns the schedule (in the log).
const NO_LOOP_LIMIT = 1_000_000_000;

/**
 * One durable consumer per enabled endpoint on WEBHOOKS, each with its own breaker, concurrency
 * slots, rate limit and instance lanes: nothing about one endpoint can hold another's messages.
 * The set follows the control schema: reconciled on a timer (edits from the CLI), at once after
 * an API change, and when the fan-out routes to an endpoint that has no worker yet.
 *
 * Only the replica owning a tenant runs its endpoints' workers: replicas sharing an endpoint's
 * durable would each hold part of its window and deliver an instance's events side by side, out
 * of order. A worker taking a durable over from an owner that died or lost its lease first waits
 * out what that owner left unacked (awaitTakeover), so nothing newer overtakes it; after a clean
 * hand-over the previous owner has handed its deliveries back, and the worker's first attach
 * gathers them in stream order.
 */
export class EndpointWorkers {
  readonly #options: EndpointWorkersOptions;
  readonly #workers = new Map<string, Worker>();
  /** Durables run here since this replica last took their tenant over: no fence to restart them. */
  readonly #runHere = new Set<string>();
  #chain: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: EndpointWorkersOptions) {
    this.#options = options;
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => {
      this.reconcileAll().catch((err: unknown) => this.#options.logger.error({ err }, 'endpoint reconcile failed'));
    }, Math.max(intervalMs, 100));
    this.#timer.unref();
  }

  has(tenant: string, endpointId: string): boolean {
    return this.#workers.has(key(tenant, endpointId));
  }

  /** Brings one tenant's workers in line with its endpoints. Serialised with every other reconcile. */
  reconcile(tenant: string): Promise<void> {
    return this.#serial(() => this.#reconcileTenant(tenant));
  }

  reconcileAll(): Promise<void> {
    return this.#serial(async () => {
      const tenants = new Set(this.#options.tenants());
      for (const worker of [...this.#workers.values()]) {
        if (!tenants.has(worker.tenant)) await this.#stopWorker(worker, false);
      }
      for (const tenant of tenants) await this.#reconcileTenant(tenant);
    });
  }

  /**
   * Stops the workers of tenants this replica no longer owns, at once (not queued behind a
   * reconcile): a partition's lease is given up only after this resolved.
   */
  async stopUnowned(): Promise<void> {
    await Promise.all([...this.#workers.values()].filter((w) => !this.#options.owns(w.tenant)).map((worker) => this.#stopWorker(worker, false)));
    for (const id of this.#runHere) if (!this.#options.owns(id.slice(0, id.indexOf('/')))) this.#runHere.delete(id);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#chain;
    await Promise.all([...this.#workers.values()].map((worker) => this.#stopWorker(worker, false)));
  }

  #serial(step: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(() => (this.#stopped ? undefined : step()));
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #reconcileTenant(tenant: string): Promise<void> {
    // Only tenants this replica serves (announced and owned): others' endpoints get no worker here.
    const serves = (): boolean => this.#options.tenants().includes(tenant) && this.#options.owns(tenant);
    const endpoints = serves() ? await listEndpoints(this.#options.pool, tenant) : [];
    const known = new Map(endpoints.map((endpoint) => [endpoint.id, endpoint]));
    for (const worker of [...this.#workers.values()].filter((w) => w.tenant === tenant)) {
      const current = known.get(worker.current.endpoint.id);
      if (current === undefined) await this.#stopWorker(worker, true);
      else if (!current.enabled || limitsChanged(worker.current.endpoint, current)) await this.#stopWorker(worker, false);
      else worker.current.endpoint = current;
    }
    // Ownership may have moved while the endpoints were read.
    if (!serves()) return;
    for (const endpoint of endpoints) {
      if (endpoint.enabled && !this.#workers.has(key(tenant, endpoint.id))) this.#startWorker(tenant, endpoint);
    }
  }

  #startWorker(tenant: string, endpoint: Endpoint): void {
    const { config, metrics, logger } = this.#options;
    const abort = new AbortController();
    const labels = { tenant, endpoint: endpoint.id };
    const breaker = config.CB_ENABLED
      ? new CircuitBreaker({
          failureThreshold: config.CB_MAX_FAILURES,
          cooldownMs: config.CB_COOLDOWN,
          onTransition: (from, to) => {
            metrics.breakerState.set(labels, BREAKER_STATE_VALUE[to]);
            metrics.breakerTransitions.inc({ ...labels, from, to });
            logger[to === 'open' ? 'warn' : 'info']({ ...labels, from, to }, 'endpoint circuit breaker');
          },
        })
      : undefined;
    if (breaker) metrics.breakerState.set(labels, BREAKER_STATE_VALUE.closed);
    const rate = endpoint.rateLimitPerSecond ?? config.WEBHOOK_ENDPOINT_RATE_LIMIT;
    const concurrency = endpoint.maxConcurrency ?? config.WEBHOOK_ENDPOINT_CONCURRENCY;
    const connections = new EndpointConnections({ maxSockets: concurrency });
    // The handler reads the endpoint through this, so a reconcile's refresh reaches it.
    const current = { endpoint };
    // Filled in once the consumer exists; a 410 can only arrive after that.
    const self: { worker?: Worker } = {};
    const handler = deliverToEndpoint({
      tenant,
      endpoint: () => current.endpoint,
      log: this.#options.log,
      metrics,
      logger,
      defaultScheduleMs: config.WEBHOOK_RETRY_DELAYS,
      retryAfterMaxMs: config.WEBHOOK_RETRY_AFTER_MAX,
      allow: config.WEBHOOK_ALLOWED_HOSTS,
      ...(breaker ? { breaker } : {}),
      semaphore: new Semaphore(concurrency),
      connections,
      ...(rate > 0 ? { rate: new RateLimiter(rate) } : {}),
      lanes: new InstanceLanes(),
      signal: abort.signal,
      onGone: async (reason) => {
        if (self.worker) await this.#disable(self.worker, reason);
      },
    });
    const window = config.WEBHOOK_ENDPOINT_WINDOW;
    const stream = this.#options.stream ?? WEBHOOKS_STREAM;
    const durable = webhookDurableName(tenant, endpoint.id);
    const start = (): RunningConsumer =>
      startConsumer({
        js: this.#options.js,
        jsm: this.#options.jsm,
        ensure: {
          filterSubject: webhookEndpointFilter(tenant, endpoint.id),
          ackWaitMs: config.WEBHOOK_ACK_WAIT,
          // Exactly the window: every delivered message is in a handler, none waits in the client's
          // buffer, so a stop never hands back a later message ahead of earlier ones (see #stopWorker).
          maxAckPending: window,
        },
        stream,
        durable,
        tenant,
        service: SERVICE,
        handler,
        logger,
        registry: this.#options.registry,
        maxDeliver: NO_LOOP_LIMIT,
        concurrency: window,
        // Only the tenant's owner runs this worker.
        soleReader: true,
      });
    // Only a takeover from an owner that did not stop cleanly needs the fence: a worker this
    // replica stopped itself (an edit, a 410), or the previous owner before it released the
    // partition, has handed its deliveries back, and waiting out their ack_wait would only delay them.
    const id = key(tenant, endpoint.id);
    const fence = this.#runHere.has(id) || this.#options.handedOver(tenant)
      ? Promise.resolve()
      : awaitTakeover({ jsm: this.#options.jsm, stream, durable, signal: abort.signal, logger }).catch((err: unknown) =>
          logger.warn({ err, tenant, endpointId: endpoint.id }, 'takeover fence failed; starting anyway'),
        );
    this.#runHere.add(id);
    const consumer = fence.then(() => {
      if (abort.signal.aborted) return undefined;
      worker.running = start();
      return worker.running;
    });
    const worker: Worker = { tenant, current, abort, consumer, connections };
    self.worker = worker;
    this.#workers.set(key(tenant, endpoint.id), worker);
    logger.info({ tenant, endpointId: endpoint.id }, 'endpoint worker started');
  }

  async #stopWorker(worker: Worker, removed: boolean): Promise<void> {
    const id = key(worker.tenant, worker.current.endpoint.id);
    if (this.#workers.get(id) !== worker) return;
    this.#workers.delete(id);
    // Intake closes before the deliveries in flight are cut short: nothing new arrives to be
    // handed straight back while they are, so what goes back keeps each instance's order.
    const stopping = worker.running?.stop();
    worker.abort.abort(new Error('endpoint worker stopping'));
    await (stopping ?? (await worker.consumer)?.stop());
    worker.connections.close();
    this.#options.metrics.breakerState.remove({ tenant: worker.tenant, endpoint: worker.current.endpoint.id });
    // A removed endpoint's durable would otherwise linger; its undelivered messages age out with the stream.
    if (removed) await deleteDurableConsumer(this.#options.jsm, this.#options.stream ?? WEBHOOKS_STREAM, webhookDurableName(worker.tenant, worker.current.endpoint.id));
    this.#options.logger.info({ tenant: worker.tenant, endpointId: worker.current.endpoint.id, removed }, 'endpoint worker stopped');
  }

  async #disable(worker: Worker, reason: string): Promise<void> {
    await setEndpointEnabled(this.#options.pool, worker.tenant, worker.current.endpoint.id, false, reason);
    this.#options.metrics.endpointsDisabled.inc({ tenant: worker.tenant, reason: 'gone' });
    worker.current.endpoint = { ...worker.current.endpoint, enabled: false, disabledReason: reason };
    this.#options.onEndpointChanged(worker.tenant);
    // Not awaited: stopping waits for in-flight handlers, and the caller is one of them.
    this.reconcile(worker.tenant).catch((err: unknown) => this.#options.logger.error({ err }, 'endpoint reconcile failed'));
  }
}

function key(tenant: string, endpointId: string): string {
  return `${tenant}/${endpointId}`;
}

function limitsChanged(before: Endpoint, after: Endpoint): boolean {
  return before.maxConcurrency !== after.maxConcurrency || before.rateLimitPerSecond !== after.rateLimitPerSecond;
}
