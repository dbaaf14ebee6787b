export type { Principal, ApiKeyRole } from './principal.ts';
