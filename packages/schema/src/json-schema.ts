import { z } from 'zod';
import { dlqRecordSchema } from './dlq.ts';
import { envelopeSchemas, eventEnvelopeSchema } from './envelope.ts';
import { EVENT_TYPES } from './events/registry.ts';

/**
 * JSON Schema documents generated from the zod schemas, for tenants who publish from other
 * languages. `pnpm --filter @switchyard/schema generate` writes them to `json-schema/`; a test
 * fails when the committed files drift from the code.
 */
export function generateJsonSchemas(): Record<string, unknown> {
  const out: Record<string, unknown> = {
    'envelope.json': withId(z.toJSONSchema(eventEnvelopeSchema, { io: 'input' }), 'envelope'),
    'dlq-record.json': withId(z.toJSONSchema(dlqRecordSchema, { io: 'input' }), 'dlq-record'),
  };
  for (const type of EVENT_TYPES) {
    out[`events/${type}.json`] = withId(z.toJSONSchema(envelopeSchemas[type], { io: 'input' }), `events/${type}`);
  }
  return out;
}

function withId(schema: object, name: string): object {
  return { $id: `https://switchyard.dev/schema/v1/${name}.json`, ...schema };
}
