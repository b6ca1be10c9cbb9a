import type * as BullBoard from '@bull-board/api';
import type * as BullBoardAdapters from '@bull-board/api/bullMQAdapter';
import type * as BullBoardExpress from '@bull-board/express';
import type { Queue } from 'bullmq';
import { Router, type RequestHandler } from 'express';

const READS = new Set(['GET', 'HEAD']);

/**
 * The only changes the dashboard may make: retrying one job, or every failed job of a queue. A
 * retry runs a job the service made again, and jobs are idempotent. Everything else Bull Board
 * offers (empty, clean, remove, add, duplicate, edit data, pause, obliterate, ...) could drop an
 * accepted interaction or forge one, so it is refused here, whatever the UI shows. (Bull Board's
 * own read-only mode refuses retries too.)
 */
const ALLOWED_CHANGES = [/^\/api\/queues\/[^/]+\/retry\/failed$/, /^\/api\/queues\/[^/]+\/[^/]+\/retry$/];

export const readOnlyButRetries: RequestHandler = (req, res, next) => {
  if (READS.has(req.method) || (req.method === 'PUT' && ALLOWED_CHANGES.some((route) => route.test(req.path)))) return next();
  // The service's error body, plus the translation key Bull Board's UI shows in its toast.
  res.status(403).json({
    error: {
      code: 'dashboard_read_only',
      message: 'The dashboard only shows jobs and retries them; nothing else may change the queue',
      key: 'ERRORS.QUEUE_READ_ONLY',
    },
  });
};

/**
 * Bull Board over every queue of the service, mounted at /admin/queues (behind requireAdmin). It is
 * loaded on the dashboard's first request: the API process serves interactions for hours without an
 * operator looking, and its code would otherwise sit in the heap the whole time, which the garbage
 * collector's growth multiplies.
 */
export function queueDashboard(...queues: Queue[]): RequestHandler {
  let board: Router | undefined;
  return (req, res, next) => {
    board ??= Router().use(readOnlyButRetries, bullBoard(queues));
    board(req, res, next);
  };
}

function bullBoard(queues: Queue[]): Router {
  const { createBullBoard } = require('@bull-board/api') as typeof BullBoard;
  const { BullMQAdapter } = require('@bull-board/api/bullMQAdapter') as typeof BullBoardAdapters;
  const { ExpressAdapter } = require('@bull-board/express') as typeof BullBoardExpress;
  const serverAdapter = new ExpressAdapter().setBasePath('/admin/queues');
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue)),
    serverAdapter,
    options: {
      uiConfig: { boardTitle: 'Interaction queues', miscLinks: [{ text: 'Feed statistics', url: '/admin/feed' }], hideDocsLink: true },
    },
  });
  const board = serverAdapter.getRouter() as Router & { disable?: (setting: string) => void };
  board.disable?.('x-powered-by'); // Bull Board serves from an Express app of its own
  return board;
}
