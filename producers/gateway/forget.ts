// POST /customers/:customerId/forget (docs/privacy.md, "Forgetting a customer"):
//
//   1. ForgetCustomer on the customer: CustomerForgotten, and from then on the
//      aggregate refuses every command (customer_forgotten);
//   2. ReleaseEmail on each e-mail reservation recorded with the customer's
//      keys, so the address can sign up again;
//   3. the customer's data keys are destroyed (a forgotten marker and a
//      tombstone per key on the keys topic): every sealed value of theirs, in
//      every topic, snapshot, changelog and read model, is unreadable.
//
// Each step is idempotent, and the reservations are read before the keys are
// destroyed: a request that fails half way is completed by sending it again.
import type { CommandMetadata } from '../../schemas/generated/types';
import type { CommandBus, CommandEnvelope, CommandOutcome } from './command-bus';
import type { GatewayLogger } from './logger';
import type { GatewayPrivacy } from './personal-data';

export async function forgetCustomer(
  bus: CommandBus,
  privacy: GatewayPrivacy,
  forget: CommandEnvelope,
  waitMs: number,
  logger: GatewayLogger,
): Promise<CommandOutcome> {
  const outcome = await bus.send(forget, { waitMs });
  if (outcome.status !== 'accepted') return outcome;
  const customerId = forget.metadata.aggregateId;
  const reservations = await privacy.emailReservationsOf(customerId);
  for (const [i, reservation] of reservations.entries()) {
    const metadata: CommandMetadata = { ...forget.metadata, commandId: `${forget.metadata.commandId}:release:${i}`, aggregateId: reservation, expectedVersion: null };
    const released = await bus.send({ aggregate: 'email-reservation', command: { type: 'ReleaseEmail', data: { customerId } }, metadata }, { waitMs });
    // Not reserved any more, or by someone else after a release: nothing of this customer's to free.
    if (released.status !== 'accepted') logger.warn({ customerId, commandId: metadata.commandId, releaseStatus: released.status }, 'e-mail release on forget did not go through');
  }
  await privacy.forget(customerId);
  return outcome;
}
