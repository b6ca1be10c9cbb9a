import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Logs on stdout, credentials redacted wherever they appear: JSON, or with `pretty` (development)
 * one readable line each (an error's stack aside), a request as "GET /recommendations 200 12 ms". pino-pretty is a
 * development dependency: an install without it logs JSON.
 */
export function createLogger(options: {
  level: string;
  name: string;
  pretty?: boolean;
  /** Where the lines go instead of stdout. */
  destination?: NodeJS.WritableStream;
}): Logger {
  const settings: LoggerOptions = {
    name: options.name,
    level: options.level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', '*.password', '*.token'],
      censor: '[redacted]',
    },
  };
  const stream = (options.pretty && prettyStream(options.destination)) || options.destination;
  return stream ? pino(settings, stream) : pino(settings);
}

type LogLine = Record<string, unknown> & { req?: { method?: string; url?: string }; res?: { statusCode?: number }; responseTime?: number };

function prettyStream(destination: NodeJS.WritableStream | undefined): NodeJS.WritableStream | undefined {
  let pretty: typeof import('pino-pretty');
  try {
    pretty = require('pino-pretty') as typeof import('pino-pretty');
  } catch {
    return undefined;
  }
  return pretty({
    destination: destination ?? 1,
    sync: destination !== undefined,
    singleLine: true,
    colorize: process.stdout.isTTY,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,req,res,responseTime',
    messageFormat: (log: LogLine, messageKey: string) => {
      const message = String(log[messageKey] ?? '');
      if (!log.req?.method) return message;
      const request = `${log.req.method} ${log.req.url} ${log.res?.statusCode ?? ''}${log.responseTime === undefined ? '' : ` ${log.responseTime} ms`}`;
      return message === 'request completed' ? request : `${request}: ${message}`;
    },
  });
}
