import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

type Headers = [string, string][];

/**
 * The headers helmet sets, worked out once: helmet's dozen middlewares per request cost the API a
 * twentieth of its CPU to set the same values every time. Helmet's defaults stay the source.
 */
function headersOf(options: Parameters<typeof helmet>[0]): Headers {
  const set = new Map<string, string>();
  const res = {
    setHeader: (name: string, value: string) => set.set(name, String(value)),
    removeHeader: (name: string) => set.delete(name),
  } as unknown as ServerResponse;
  helmet(options)({} as IncomingMessage, res, () => undefined);
  return [...set];
}

/**
 * Security headers on every response. The dashboard and the docs are HTML pages whose bundled
 * scripts and styles need a looser content policy than helmet's default, which the API keeps.
 */
export function securityHeaders(): (path: string, res: ServerResponse) => void {
  const api = headersOf({});
  const pages = headersOf({ contentSecurityPolicy: false });
  return (path, res) => {
    for (const [name, value] of /^\/(admin\/queues|docs)(\/|$)/.test(path) ? pages : api) res.setHeader(name, value);
  };
}
