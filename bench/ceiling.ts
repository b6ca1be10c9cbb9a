// The ceiling: what one Node process with Express 5 can answer on this machine when it does
// nothing but parse the same JSON body and answer 202. The ingest phase is judged against it.
import { randomUUID } from 'node:crypto';
import express from 'express';

const app = express();
app.disable('x-powered-by');
app.get('/readyz', (_req, res) => {
  res.json({ status: 'ready' });
});
app.post('/interactions', express.json({ limit: '8kb' }), (req, res) => {
  const body = req.body as { eventId?: unknown; action?: unknown };
  res.status(202).json({ id: randomUUID(), eventId: body.eventId, action: body.action, status: 'queued' });
});

// Bound like the service's server (all interfaces), with its keep-alive settings.
const server = app.listen(Number(process.env.PORT ?? 3999));
server.keepAliveTimeout = 5_000;
server.headersTimeout = 10_000;

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
