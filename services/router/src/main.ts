import { runService } from '@switchyard/runtime';
import { startRouter } from './app.ts';
import { loadRouterConfig } from './config.ts';

await runService({ service: 'router', start: () => startRouter(loadRouterConfig()) });
