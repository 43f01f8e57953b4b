// Which of kafkajs's own log lines are worth a person's attention. kafkajs logs
// every error answer of the broker at error level, before it retries; during a
// normal start, stop or rebalance the broker gives several such answers that
// kafkajs (like the Java client) simply retries. Those are logged at debug
// level here; a retry that runs out still reaches the caller, which fails and
// says so. Everything else keeps kafkajs's level. See docs/operations.md
// ("What the logs say").
import { logLevel } from 'kafkajs';

export type PinoLevel = 'error' | 'warn' | 'info' | 'debug';

const levels: Record<number, PinoLevel> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * Broker answers that are transient by design and that kafkajs retries:
 * a coordinator or leader not elected yet (every start, and after a broker
 * restart), a coordinator that moved or is loading its log, a group in the
 * middle of a rebalance (the member re-joins), and CONCURRENT_TRANSACTIONS (a
 * transaction begun while the coordinator still writes the previous one's
 * commit markers).
 */
export const TRANSIENT_BROKER_ANSWERS: readonly string[] = [
  'The group coordinator is not available',
  "The coordinator is loading and hence can't process requests for this group",
  'This is not the correct coordinator for this group',
  'There is no leader for this topic-partition as we are in the middle of a leadership election',
  'This server is not the leader for that topic-partition',
  'The group is rebalancing, so a rejoin is needed',
  'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing',
];

/** A normal part of a rebalance that kafkajs says as a warning. */
const REBALANCE_NOTICES: readonly string[] = ['The group is rebalancing, re-joining'];

const mentionsTransient = (text: unknown): boolean => typeof text === 'string' && TRANSIENT_BROKER_ANSWERS.some((answer) => text.includes(answer));

/**
 * The lines kafkajs writes before it retries: a broker's error answer
 * (`Response <api>`), a produce it sends again, or the answer itself. A crash
 * or a consumer restart that merely quotes such an answer keeps its level.
 */
const RETRIED_LINE = /^(Response |Failed to send messages: )/;

/** The pino level for one kafkajs log entry (its level, message and `error` field). */
export function kafkajsLevel(level: logLevel, message: string, error?: unknown): PinoLevel {
  const own = levels[level] ?? 'info';
  if (own !== 'error' && own !== 'warn') return own;
  const retriedLine = RETRIED_LINE.test(message) || TRANSIENT_BROKER_ANSWERS.includes(message);
  if (retriedLine && (mentionsTransient(message) || mentionsTransient(error))) return 'debug';
  if (REBALANCE_NOTICES.some((notice) => message.startsWith(notice))) return 'info';
  return own;
}
