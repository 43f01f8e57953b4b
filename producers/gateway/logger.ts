// The little the gateway needs from a logger; a pino logger fits it as is.
export interface GatewayLogger {
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

/** Default: one JSON line per entry on stderr (the real wiring passes pino). */
export const stderrLogger: GatewayLogger = {
  info: (details, message) => process.stderr.write(`${JSON.stringify({ level: 'info', msg: message, ...details })}\n`),
  warn: (details, message) => process.stderr.write(`${JSON.stringify({ level: 'warn', msg: message, ...details })}\n`),
  error: (details, message) => process.stderr.write(`${JSON.stringify({ level: 'error', msg: message, ...details })}\n`),
};

/** Serializable summary of a thrown value for a log line (never sent to clients). */
export function describeError(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack, cause: error.cause === undefined ? undefined : String(error.cause) };
  return { thrown: String(error) };
}
