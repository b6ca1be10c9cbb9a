import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Router } from 'express';

/** Bull Board over every queue of the service, mounted at /admin/queues (behind requireAdmin). */
export function queueDashboard(...queues: Queue[]): Router {
  const serverAdapter = new ExpressAdapter().setBasePath('/admin/queues');
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Interaction queues' } },
  });
  const router = serverAdapter.getRouter() as Router & { disable?: (setting: string) => void };
  router.disable?.('x-powered-by'); // Bull Board serves from an Express app of its own
  return router;
}
