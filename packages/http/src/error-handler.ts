import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from './http-error.ts';
import { errorBody, type ErrorBody } from './response.ts';

interface Mapped {
  status: number;
  body: ErrorBody;
}

// Fastify's own client errors, by code, mapped to our vocabulary.
const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'MALFORMED_JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'MALFORMED_JSON' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
};

type ValidationIssue = { instancePath?: string; message?: string };

/** Turns any error into the API's error envelope; unknown errors are logged and hidden as INTERNAL. */
export function handleError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body } = mapError(err);
  if (status >= 500) request.log.error({ err }, 'request failed');
  return reply.code(status).send(body);
}

function mapError(err: FastifyError): Mapped {
  if (err instanceof HttpError) return { status: err.status, body: errorBody(err.code, err.message) };
  if (Array.isArray(err.validation)) {
    return { status: 400, body: errorBody('VALIDATION_FAILED', describeValidation(err)) };
  }
  const known = FASTIFY_CLIENT_ERRORS[err.code];
  if (known) return { status: known.status, body: errorBody(known.code, clientMessage(known.code, err)) };
  // A parser that throws SyntaxError (custom JSON parsers do) is still malformed input.
  if (err instanceof SyntaxError && err.statusCode === 400) {
    return { status: 400, body: errorBody('MALFORMED_JSON', 'request body is not valid JSON') };
  }
  if (err.code?.startsWith('FST_') && err.statusCode !== undefined && err.statusCode < 500) {
    return { status: err.statusCode, body: errorBody('BAD_REQUEST', err.message) };
  }
  return { status: 500, body: errorBody('INTERNAL', 'internal error') };
}

function clientMessage(code: string, err: FastifyError): string {
  if (code === 'MALFORMED_JSON') return `request body is not valid JSON: ${err.message}`;
  return err.message;
}

function describeValidation(err: FastifyError): string {
  const where = err.validationContext ?? 'request';
  const issues = (err.validation ?? []) as ValidationIssue[];
  return issues
    .map((issue) => {
      const path = (issue.instancePath ?? '').split('/').filter(Boolean).join('.');
      return `${path ? `${where}.${path}` : where}: ${issue.message ?? 'is invalid'}`;
    })
    .join('; ');
}

export function handleNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(404).send(errorBody('NOT_FOUND', `route ${request.method} ${request.url.split('?')[0]} not found`));
}
