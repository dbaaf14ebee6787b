import { context, propagation, type Context, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { headers as createHeaders, type JetStreamClient, type JetStreamPublishOptions, type MsgHdrs } from 'nats';

export interface PublishEventOptions {
  /** The event id; becomes `Nats-Msg-Id`, so the stream stores a re-publish only once. */
  msgId: string;
  headers?: Record<string, string | string[]>;
  /** Reject the publish unless the subject lands in this stream. */
  expectStream?: string;
  /** How long to wait for the PubAck. Default 5s. */
  timeoutMs?: number;
}

export interface PublishResult {
  stream: string;
  seq: number;
  /** True when the stream already held this msgId: nothing new was stored. */
  duplicate: boolean;
}

const headerSetter: TextMapSetter<MsgHdrs> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

const recordGetter: TextMapGetter<Record<string, string[]>> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    // NATS keeps header case as sent; W3C propagators ask in lowercase.
    const found = Object.entries(carrier).find(([name]) => name.toLowerCase() === key.toLowerCase());
    return found?.[1];
  },
};

/**
 * Publishes to JetStream and waits for the PubAck, carrying the active trace context in the
 * headers. Resolves only once the stream has stored the message (or had it already).
 */
export async function publishEvent(
  js: JetStreamClient,
  subject: string,
  data: Uint8Array,
  options: PublishEventOptions,
): Promise<PublishResult> {
  const hdrs = createHeaders();
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) hdrs.append(name, v);
  }
  injectTraceContext(hdrs);
  const publishOptions: Partial<JetStreamPublishOptions> = { msgID: options.msgId, headers: hdrs };
  if (options.timeoutMs !== undefined) publishOptions.timeout = options.timeoutMs;
  if (options.expectStream !== undefined) publishOptions.expect = { streamName: options.expectStream };
  const ack = await js.publish(subject, data, publishOptions);
  return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
}

/** Puts the active trace context into headers about to be published. */
export function injectTraceContext(hdrs: MsgHdrs): void {
  propagation.inject(context.active(), hdrs, headerSetter);
}

/** The trace context a publisher injected, to continue its trace in a consumer. */
export function extractTraceContext(headers: Record<string, string[]>, parent: Context = context.active()): Context {
  return propagation.extract(parent, headers, recordGetter);
}

/** NATS headers as a plain record; the consume loop hands handlers only this. */
export function headersToRecord(hdrs: MsgHdrs | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (hdrs === undefined) return out;
  for (const key of hdrs.keys()) out[key] = hdrs.values(key);
  return out;
}
