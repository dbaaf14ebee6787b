import type { Principal } from '@switchyard/db';

/** What a route requires, declared as `config: { auth: 'read' }`; routes without it are public. */
export type AuthRequirement = 'read' | 'admin' | 'operator';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on routes that declare `config.auth`; null on public routes. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    auth?: AuthRequirement;
  }
}
