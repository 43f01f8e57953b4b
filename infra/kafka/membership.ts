// Whether a kafkajs consumer is a working member of its group right now, for
// readiness (docs/recovery.md): not before its first assignment, not between a
// crash and the assignment of its restart, never again after a crash kafkajs
// does not restart.
import type { Consumer } from 'kafkajs';

export interface Membership {
  /** Undefined when the consumer has its assignment; else why not. */
  notReady(): string | undefined;
  /** Why the consumer will never consume again (a crash kafkajs did not restart); undefined while it may. */
  broken(): string | undefined;
}

export function trackMembership(consumer: Consumer, name: string): Membership {
  let reason: string | undefined = `${name}: no assignment yet`;
  let dead: string | undefined;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    reason = undefined;
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    reason = payload.restart ? `${name}: restarting after ${payload.error.name}` : `${name}: stopped after ${payload.error.name} (not restarted)`;
    if (!payload.restart) dead = reason;
  });
  consumer.on(consumer.events.STOP, () => {
    reason = `${name}: stopped`;
  });
  return { notReady: () => reason, broken: () => dead };
}
