import { HttpError } from '@switchyard/http';
import { classifyPostgresFailure } from './postgres-failure.ts';

/** An operator naming a tenant that has no schema gets 404, not a 500. */
export async function withTenantSchema<T>(tenant: string, query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (err) {
    if (classifyPostgresFailure(err) === 'tenant-missing') {
      throw new HttpError(404, 'TENANT_NOT_FOUND', `tenant ${tenant} is not provisioned`, { cause: err });
    }
    throw err;
  }
}
