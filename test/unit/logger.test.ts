import { Writable } from 'node:stream';
import { createLogger } from '../../src/ops/logger';

/** What a logger made with these options writes while `log` runs. */
function captured(options: { pretty?: boolean }, log: (logger: ReturnType<typeof createLogger>) => void): string {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  log(createLogger({ level: 'info', name: 'web', destination, ...options }));
  return chunks.join('');
}

const request = {
  req: { method: 'GET', url: '/recommendations?limit=20', headers: { authorization: 'Bearer secret' } },
  res: { statusCode: 200 },
  responseTime: 12,
};

describe('logs', () => {
  test('in development, one readable line per request, without credentials', () => {
    const text = captured({ pretty: true }, (logger) => logger.info(request, 'request completed'));
    expect(text.trim().split('\n')).toHaveLength(1);
    expect(text).toMatch(/INFO \(web\): GET \/recommendations\?limit=20 200 12 ms/);
    expect(text).not.toContain('secret');
  });

  test('in production, JSON with the credentials redacted', () => {
    const text = captured({}, (logger) => logger.info(request, 'request completed'));
    const line = JSON.parse(text) as { req: { headers: { authorization: string } }; msg: string };
    expect(line.msg).toBe('request completed');
    expect(line.req.headers.authorization).toBe('[redacted]');
  });
});
