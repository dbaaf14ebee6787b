import { z } from 'zod';

export interface SuccessBody<T> {
  success: true;
  data: T;
}

export interface ErrorBody {
  success: false;
  error: { code: string; message: string };
}

/** Wraps a route's result in the success envelope every API route answers with. */
export function ok<T>(data: T): SuccessBody<T> {
  return { success: true, data };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { success: false, error: { code, message } };
}

/** Route response schema for the success envelope around `data`. */
export function successResponse<T extends z.ZodType>(data: T) {
  return z.object({ success: z.literal(true), data });
}

export const errorResponseSchema = z
  .object({
    success: z.literal(false),
    error: z.object({
      code: z.string().describe('Machine-readable error code, e.g. VALIDATION_FAILED'),
      message: z.string().describe('Human-readable explanation'),
    }),
  })
  .describe('Error envelope returned by every API route');

/** The error answers a route documents (its OpenAPI `response` entries besides 200). */
export function errorResponses<const S extends number>(...statuses: S[]): Record<S, typeof errorResponseSchema> {
  return Object.fromEntries(statuses.map((status) => [status, errorResponseSchema])) as Record<S, typeof errorResponseSchema>;
}

/**
 * `?tenant=`: how an operator key names the tenant it acts for (tenantOf reads it, as it reads
 * X-Switchyard-Tenant). Declared in a route's querystring so strict validation keeps it.
 */
export const operatorTenantQuery = {
  tenant: z.string().optional().describe('Operator keys only: the tenant to act for (or X-Switchyard-Tenant)'),
};
