import pino, { type Logger } from 'pino';

/** JSON logs on stdout; LOG_LEVEL (default info) sets the level. One root, children per role and per message. */
export const rootLogger: Logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: { service: 'restaurant' },
  timestamp: pino.stdTimeFunctions.isoTime,
});

export type { Logger };
