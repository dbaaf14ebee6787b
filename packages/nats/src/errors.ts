import { SwitchyardError } from '@switchyard/runtime';
import { NatsError } from 'nats';

// The retry classification (`isNonRetryable`) and the unreachable-dependency error live in
// @switchyard/runtime so every package classifies errors the same way.

/** Thrown when the DLQ record a consumer built does not match the schema: a bug, not bad input. */
export class InvalidDlqRecordError extends SwitchyardError {
  override name = 'InvalidDlqRecordError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'DLQ_RECORD_INVALID', nonRetryable: true, cause: options.cause });
  }
}

// JetStream API error codes (nats-server errors.json); matched here so callers never parse text.
const JS_ERR_STREAM_NOT_FOUND = 10059;
const JS_ERR_CONSUMER_NOT_FOUND = 10014;
const JS_ERR_NO_MESSAGE = 10037;

function jsErrCode(err: unknown): number | undefined {
  return err instanceof NatsError ? err.api_error?.err_code : undefined;
}

/** The JetStream API said the stream does not exist. */
export function isStreamNotFound(err: unknown): err is NatsError {
  return jsErrCode(err) === JS_ERR_STREAM_NOT_FOUND;
}

/** The JetStream API said the consumer does not exist. */
export function isConsumerNotFound(err: unknown): err is NatsError {
  return jsErrCode(err) === JS_ERR_CONSUMER_NOT_FOUND;
}

/** The JetStream API said the message asked for (by sequence or subject) is not in the stream. */
export function isMessageNotFound(err: unknown): err is NatsError {
  return jsErrCode(err) === JS_ERR_NO_MESSAGE;
}
