// The receiver worker's entry: worker threads do not inherit the parent's `--import tsx`, so it
// registers tsx itself before loading the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./receiver-worker.ts');
