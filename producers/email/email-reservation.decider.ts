// EmailReservation aggregate: keyed by the normalized email (trim + lower case),
// it records which customer holds an address. Because every command for one
// normalized email lands on one partition and the command processor decides
// them one at a time, two sign-ups racing for the same address are serialized
// here: exactly one ReserveEmail wins (see docs/domain.md).
import type { EmailReservationSnapshot } from '../../schemas/generated/types';
import type { EmailReservationCommand, EmailReservationEvent } from '../../schemas/messages';
import { validateId } from '../../schemas/validation';
import { authorize as authorizeActor, FORBIDDEN, type Forbidden } from '../shared/authorization';
import { accept, reject, type CommandContext, type Decider, type Decision, type Refusal, type StateSnapshot } from '../shared/decider';
import { assertNever } from '../../kernel/assert-never';

export { normalizeEmail } from '../../schemas/validation';

export const EMAIL_RESERVATION_REJECTIONS = [FORBIDDEN, 'email_taken', 'email_not_reserved', 'not_reservation_holder', 'invalid_customer_id'] as const;
export type EmailReservationRejectionCode = (typeof EMAIL_RESERVATION_REJECTIONS)[number];

export interface EmailReservationState {
  /** Customer holding the address, or null when it is free (never reserved, or released). */
  readonly holderCustomerId: string | null;
}

export const initialState: EmailReservationState = { holderCustomerId: null };

type Result = Decision<EmailReservationEvent, EmailReservationRejectionCode>;

/** A customer reserves and releases an address only for themself (data.customerId is their subject). */
export function authorize(command: EmailReservationCommand, _state: EmailReservationState, context: CommandContext): Refusal<Forbidden> | null {
  return authorizeActor(context.actor, command.type, () => command.data.customerId, 'email reservation');
}

export function decide(command: EmailReservationCommand, state: EmailReservationState, context: CommandContext): Result {
  const forbidden = authorize(command, state, context);
  if (forbidden !== null) return forbidden;
  const { customerId } = command.data;
  const holder = state.holderCustomerId;
  switch (command.type) {
    case 'ReserveEmail': {
      const problem = validateId('customerId', customerId);
      if (problem !== null) return reject('invalid_customer_id', problem);
      if (holder === null) return accept({ type: 'EmailReserved', data: { customerId } });
      if (holder === customerId) return accept(); // a retry by the holder: already done
      return reject('email_taken', 'this email address is already used by another customer');
    }
    case 'ReleaseEmail':
      if (holder === null) return reject('email_not_reserved', 'this email address is not reserved');
      if (holder !== customerId) return reject('not_reservation_holder', 'only the customer holding this email address can release it');
      return accept({ type: 'EmailReleased', data: { customerId } });
    default:
      return assertNever(command, 'email reservation command');
  }
}

export function evolve(state: EmailReservationState, event: EmailReservationEvent): EmailReservationState {
  switch (event.type) {
    case 'EmailReserved':
      return { holderCustomerId: event.data.customerId };
    case 'EmailReleased':
      return state.holderCustomerId === event.data.customerId ? { holderCustomerId: null } : state;
    default:
      return assertNever(event, 'email reservation event');
  }
}

export const emailReservationDecider: Decider<
  EmailReservationCommand,
  EmailReservationEvent,
  EmailReservationState,
  EmailReservationRejectionCode
> = { initialState, decide, evolve };

/** `email` is the aggregate id: the normalized address. */
export function toSnapshot(email: string, version: number, state: EmailReservationState): StateSnapshot<EmailReservationSnapshot> | null {
  if (version < 1) return null;
  return { email, version, holderCustomerId: state.holderCustomerId };
}

export function fromSnapshot(snapshot: StateSnapshot<EmailReservationSnapshot>): { aggregateId: string; version: number; state: EmailReservationState } {
  return { aggregateId: snapshot.email, version: snapshot.version, state: { holderCustomerId: snapshot.holderCustomerId } };
}
