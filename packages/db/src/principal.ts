/** Who an API key speaks for. A tenant key is bound to one tenant; an operator key to none. */
export type ApiKeyRole = 'read' | 'admin';

export type Principal =
  | { kind: 'tenant'; tenant: string; role: ApiKeyRole; keyId: string }
  | { kind: 'operator'; keyId: string };
