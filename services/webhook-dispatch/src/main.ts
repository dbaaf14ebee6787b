import { runService } from '@switchyard/runtime';
import { startWebhookDispatch } from './app.ts';
import { loadWebhookDispatchConfig } from './config.ts';

await runService({ service: 'webhook-dispatch', start: () => startWebhookDispatch(loadWebhookDispatchConfig()) });
