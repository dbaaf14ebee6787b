import { runService } from '@switchyard/runtime';
import { startPersistence } from './app.ts';
import { loadPersistenceConfig } from './config.ts';

await runService({ service: 'persistence', start: () => startPersistence(loadPersistenceConfig()) });
