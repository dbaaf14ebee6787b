/**
 * @switchyard/nats — everything that touches NATS JetStream: connecting, the stream and durable
 * consumer specs, publishing events with trace context, the consume loop that turns a handler's
 * outcome into ack / retry / DLQ hand-off, the re-publish of an exhausted message (requeue), and
 * the tenant registry that starts per-tenant consumers, and single ownership of partitions through KV leases (ownership.ts). Services hand this package plain handlers and never see a raw JetStream message.
 */
export { connectNats, isNatsConnected, NATS_CLIENT_TUNING, type ConnectNatsOptions } from './connect.ts';
export {
  STREAM_DEFAULTS,
  ensureStreams,
  ensureStream,
  streamConfig,
  type EnsureStreamsOptions,
  type EnsuredStreams,
  type StreamIdentity,
  type StreamSpec,
} from './streams.ts';
export {
  ATOMIC_BATCH_MAX_MESSAGES,
  ATOMIC_BATCH_MIN_MESSAGES,
  atomicBatchesSupported,
  publishAtomicBatch,
  publishAtomicRun,
  type AtomicBatchOptions,
  type AtomicBatchResult,
  type AtomicRunResult,
  type BatchMessage,
} from './atomic-batch.ts';
export {
  filterListsSupported,
  CONSUMER_DEFAULTS,
  ensureDurableConsumer,
  deleteDurableConsumer,
  durableConsumerConfig,
  type DurableConsumerOptions,
} from './consumers.ts';
export { ack, retry, deadLetter, type Outcome, type Handler, type InboundMessage } from './outcome.ts';
export { DEFAULT_RETRY_BACKOFF_MS } from './settle.ts';
export {
  startConsumer,
  type StartConsumerOptions,
  type RunningConsumer,
  type ConsumerState,
} from './consume.ts';
export {
  startBatchConsumer,
  startTenantBatchConsumers,
  type BatchHandler,
  type StagedBatchHandler,
  type StartBatchConsumerOptions,
  type RunningBatchConsumer,
  type TenantBatchConsumerOptions,
  type TenantBatchConsumers,
} from './consume-batch.ts';
export {
  publishEvent,
  extractTraceContext,
  headersToRecord,
  type PublishEventOptions,
  type PublishResult,
} from './publish.ts';
export {
  buildDlqRecord,
  publishToDlq,
  dlqMsgId,
  isRetryableReason,
  type BuildDlqRecordInput,
  type PublishToDlqOptions,
} from './dlq.ts';
export { republishExhausted, type ExhaustedMessage, type RepublishResult } from './requeue.ts';
export {
  TENANT_BUCKET,
  followTenants,
  partitionGate,
  awaitTakeover,
  type TenantGate,
  type AwaitTakeoverOptions,
  type TenantWorker,
  type FollowTenantsOptions,
  announceTenant,
  retractTenant,
  watchTenants,
  startTenantConsumers,
  type TenantBucketOptions,
  type WatchTenantsOptions,
  type TenantWatch,
  type TenantConsumerOptions,
  type StartTenantConsumersOptions,
  type TenantConsumers,
} from './tenant-registry.ts';
export {
  SWITCHYARD_ACCOUNT_NAME,
  createNatsAuthority,
  natsServerAuthConfig,
  tenantInboxPrefix,
  tenantPermissions,
  mintTenantUser,
  mintServiceCreds,
  revokeUsers,
  type MintedUser,
  type NatsAuthority,
  type NatsIdentity,
  type MintUserOptions,
} from './credentials.ts';
export {
  openLeaseBucket,
  isLeaseTaken,
  startLeaseOwnership,
  startOwnership,
  partitionOf,
  type LeaseBucket,
  type LeaseBucketOptions,
  type LeaseOwnership,
  type LeaseOwnershipOptions,
  type ReleaseReason,
  type PartitionOwnership,
  type PartitionChange,
  type PartitionListener,
  type StartOwnershipOptions,
} from './ownership.ts';
export { startCatchAllConsumer, type CatchAllConsumerOptions, type RunningCatchAll, type Unclaimed } from './catch-all-consumer.ts';
export { InvalidDlqRecordError, isStreamNotFound, isConsumerNotFound } from './errors.ts';
export { consumerMetrics, type ConsumerMetrics } from './metrics.ts';
export {
  WEBHOOKS_STREAM,
  WEBHOOK_HEADERS,
  webhookDeliveryMsgId,
  webhooksStreamConfig,
  publishWebhookDelivery,
  webhookDeliveryMessage,
  readStoredMessage,
  type WebhookDelivery,
  type StoredMessage,
} from './webhooks.ts';
