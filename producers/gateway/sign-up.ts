// POST /customers: reserve the email, then sign the customer up, releasing the
// email again if the sign-up is refused and the reservation was its own (docs/domain.md, "The sign-up flow").
// Uniqueness is decided by the EmailReservation aggregate, whose commands for
// one normalized email are processed one at a time on one partition.
import type { CommandBus, CommandOutcome } from './command-bus';
import { describeError, type GatewayLogger } from './logger';
import type { SignUpEnvelopes } from './routes';

export interface SignUpResult {
  /** Which command's outcome answers the request: the reservation's when it did not go through, else the sign-up's. */
  readonly answeredBy: 'reserve' | 'sign-up';
  readonly outcome: CommandOutcome;
}

/**
 * Runs the flow. Throws what the bus throws (e.g. CommandBusUnavailable) for the
 * reservation or the sign-up; the release after a refused sign-up is best
 * effort: its failure is logged, and the client still gets the sign-up's refusal.
 *
 * `waitMs` says how long the next command may wait for its reply: what is left
 * of the request's time (every request is answered within its bound).
 *
 * When the sign-up could not be written at all (bus unavailable) the reservation
 * is deliberately kept: a retry with the same Idempotency-Key replays the same
 * reservation (deduplicated) and completes the sign-up, whereas releasing it
 * would let a retried sign-up succeed without holding its email.
 */
export async function signUpCustomer(
  bus: CommandBus,
  envelopes: SignUpEnvelopes,
  waitMs: () => number,
  logger: GatewayLogger,
): Promise<SignUpResult> {
  const reserved = await bus.send(envelopes.reserve, { waitMs: waitMs() });
  if (reserved.status !== 'accepted') return { answeredBy: 'reserve', outcome: reserved };

  const signedUp = await bus.send(envelopes.signUp, { waitMs: waitMs() });
  // Release only a reservation this sign-up made. A reservation accepted as a
  // no-op was already held by this customer (a customer's id is their token's
  // subject, so a signed-up customer posting again reserves their own address
  // again): releasing it would free the address of an existing customer.
  if (signedUp.status === 'rejected' && reserved.events.length > 0) await release(bus, envelopes, waitMs, logger, signedUp.code);
  return { answeredBy: 'sign-up', outcome: signedUp };
}

async function release(bus: CommandBus, envelopes: SignUpEnvelopes, waitMs: () => number, logger: GatewayLogger, reason: string): Promise<void> {
  const details = {
    commandId: envelopes.release.metadata.commandId,
    correlationId: envelopes.release.metadata.correlationId,
    customerId: envelopes.signUp.metadata.aggregateId,
    signUpRejection: reason,
  };
  try {
    const released = await bus.send(envelopes.release, { waitMs: waitMs() });
    if (released.status !== 'accepted') {
      logger.warn({ ...details, releaseStatus: released.status, ...(released.status === 'rejected' ? { releaseRejection: released.code } : {}) }, 'email release after a refused sign-up did not go through');
    }
  } catch (error) {
    logger.error({ ...details, error: describeError(error) }, 'email release after a refused sign-up failed; the address stays reserved');
  }
}
