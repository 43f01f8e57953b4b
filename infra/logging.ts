import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

/**
 * How log lines are written (LOG_FORMAT): `pretty`, one coloured line a person
 * can read, or `json`, one JSON object a line for machines. Without
 * LOG_FORMAT: pretty when stdout is a terminal, JSON otherwise (a pipe, a
 * file, a log shipper, the tests).
 */
export type LogFormat = 'json' | 'pretty';

export function logFormat(env: NodeJS.ProcessEnv = process.env, isTTY: boolean = process.stdout.isTTY === true): LogFormat {
  const raw = env.LOG_FORMAT;
  if (raw === undefined || raw === '') return isTTY ? 'pretty' : 'json';
  if (raw === 'json' || raw === 'pretty') return raw;
  throw new Error(`LOG_FORMAT=${JSON.stringify(raw)} is not json or pretty`);
}

/** The fields every line carries that a person at a terminal does not need to read. */
const QUIET_FIELDS = 'pid,hostname,service,role,instance,component';

/** pino-pretty, synchronous (nothing lost on process.exit), one line per entry, the component before the message. */
export function prettyStream(colorize: boolean = process.stdout.isTTY === true): DestinationStream {
  return pretty({
    colorize,
    sync: true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: QUIET_FIELDS,
    messageFormat: '{if component}{component}: {end}{msg}',
  });
}

function createRootLogger(): Logger {
  const options = { level: process.env.LOG_LEVEL ?? 'info', base: { service: 'restaurant' }, timestamp: pino.stdTimeFunctions.isoTime };
  return logFormat() === 'pretty' ? pino(options, prettyStream()) : pino(options);
}

/** One root, children per role and per message; LOG_LEVEL (default info) sets the level, LOG_FORMAT the format. */
export const rootLogger: Logger = createRootLogger();

export type { Logger };
