// Which start-up failures mean "something we need is not there yet" (Kafka, the
// schema registry or Redis down or still starting), worth waiting out, and
// which mean the configuration is wrong (a ConfigError, topic drift, a refused
// login or ACL), where waiting would only hide the problem.

const NETWORK_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN']);
/** kafkajs's "retries ran out" (itself marked not retriable; what it wraps says) and ioredis's. */
const WRAPPERS: ReadonlySet<string> = new Set(['KafkaJSNumberOfRetriesExceeded']);
const TRANSIENT_NAMES: ReadonlySet<string> = new Set(['MaxRetriesPerRequestError']);

export function isTransient(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 8) return false;
  const e = error as { name?: unknown; retriable?: unknown; code?: unknown; cause?: unknown; originalError?: unknown; message?: unknown };
  if (e.retriable === true) return true;
  if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  // ioredis when the server is not there: "Connection is closed." / "connect ECONNREFUSED"
  if (typeof e.message === 'string' && /Connection is closed|ECONNREFUSED/.test(e.message)) return true;
  if (typeof e.name === 'string' && WRAPPERS.has(e.name)) return isTransient(e.cause ?? e.originalError, depth + 1) || e.cause === undefined;
  if (e.retriable === false) return false;
  return isTransient(e.cause, depth + 1) || isTransient(e.originalError, depth + 1);
}
