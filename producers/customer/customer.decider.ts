// Customer aggregate: sign-up, name changes, saved delivery addresses.
// Email uniqueness is not decided here (one customer cannot see the others); the
// command side reserves the normalized email on the EmailReservation aggregate
// first (see producers/email and docs/domain.md). Names, emails and addresses
// arrive sealed by the gateway (docs/privacy.md): only their shape is checked
// here, and a forgotten customer takes no more commands.
import type { CustomerAddress, CustomerSnapshot } from '../../schemas/generated/types';
import type { CustomerCommand, CustomerEvent } from '../../schemas/messages';
import { normalizeAddress, validateEmail, validateId, validatePersonal, validatePersonalAddress, validatePersonName } from '../../schemas/validation';
import { authorize as authorizeActor, FORBIDDEN, type Forbidden } from '../shared/authorization';
import { accept, reject, SnapshotError, type CommandContext, type Decider, type Decision, type Refusal, type StateSnapshot } from '../shared/decider';
import { assertNever } from '../../kernel/assert-never';

export const MAX_SAVED_ADDRESSES = 10;

export const CUSTOMER_REJECTIONS = [
  FORBIDDEN,
  'customer_already_exists',
  'customer_not_found',
  'invalid_name',
  'invalid_email',
  'invalid_address',
  'address_already_exists',
  'address_not_found',
  'too_many_addresses',
  'customer_forgotten',
] as const;
export type CustomerRejectionCode = (typeof CUSTOMER_REJECTIONS)[number];

export type CustomerState =
  | { readonly exists: false }
  | {
      readonly exists: true;
      /** Forgotten: name and email are empty, addresses gone, and nothing more is accepted. */
      readonly forgotten: boolean;
      readonly name: string;
      readonly email: string;
      readonly addresses: readonly CustomerAddress[];
    };

export const initialState: CustomerState = { exists: false };

type Result = Decision<CustomerEvent, CustomerRejectionCode>;

/** A customer acts only on the customer whose id is their subject (sign-up included: a customer signs up as themself). */
export function authorize(command: CustomerCommand, _state: CustomerState, context: CommandContext): Refusal<Forbidden> | null {
  return authorizeActor(context.actor, command.type, () => context.aggregateId, 'customer profile');
}

export function decide(command: CustomerCommand, state: CustomerState, context: CommandContext): Result {
  const forbidden = authorize(command, state, context);
  if (forbidden !== null) return forbidden;
  if (command.type === 'ForgetCustomer') {
    // Also for an id that never signed up (it may have orders with addresses): the id is then closed for good.
    if (state.exists && state.forgotten) return accept();
    return accept({ type: 'CustomerForgotten', data: {} });
  }
  if (state.exists && state.forgotten) return reject('customer_forgotten', 'this customer was forgotten');
  if (command.type === 'SignUpCustomer') {
    if (state.exists) return reject('customer_already_exists', 'a customer with this id already exists');
    const nameProblem = validatePersonal('name', command.data.name, validatePersonName);
    if (nameProblem !== null) return reject('invalid_name', nameProblem);
    const emailProblem = validatePersonal('email', command.data.email, validateEmail);
    if (emailProblem !== null) return reject('invalid_email', emailProblem);
    return accept({ type: 'CustomerSignedUp', data: { name: command.data.name.trim(), email: command.data.email.trim() } });
  }
  if (!state.exists) return reject('customer_not_found', 'no customer with this id');

  switch (command.type) {
    case 'ChangeCustomerName': {
      const problem = validatePersonal('name', command.data.name, validatePersonName);
      if (problem !== null) return reject('invalid_name', problem);
      // A sealed name never equals the last one (a fresh nonce each time), so a sealed rename always records an event.
      const name = command.data.name.trim();
      if (name === state.name) return accept();
      return accept({ type: 'CustomerNameChanged', data: { name } });
    }
    case 'AddDeliveryAddress': {
      const { addressId } = command.data;
      const idProblem = validateId('addressId', addressId);
      if (idProblem !== null) return reject('invalid_address', idProblem);
      const problem = validatePersonalAddress(command.data.address);
      if (problem !== null) return reject('invalid_address', problem);
      if (state.addresses.some((a) => a.addressId === addressId)) {
        return reject('address_already_exists', `address "${addressId}" is already saved`);
      }
      if (state.addresses.length >= MAX_SAVED_ADDRESSES) {
        return reject('too_many_addresses', `a customer can save at most ${MAX_SAVED_ADDRESSES} addresses`);
      }
      return accept({ type: 'DeliveryAddressAdded', data: { addressId, address: normalizeAddress(command.data.address) } });
    }
    case 'RemoveDeliveryAddress': {
      const { addressId } = command.data;
      if (!state.addresses.some((a) => a.addressId === addressId)) {
        return reject('address_not_found', `no saved address "${addressId}"`);
      }
      return accept({ type: 'DeliveryAddressRemoved', data: { addressId } });
    }
    default:
      return assertNever(command, 'customer command');
  }
}

export function evolve(state: CustomerState, event: CustomerEvent): CustomerState {
  switch (event.type) {
    case 'CustomerSignedUp':
      return { exists: true, forgotten: false, name: event.data.name, email: event.data.email, addresses: [] };
    case 'CustomerForgotten':
      return { exists: true, forgotten: true, name: '', email: '', addresses: [] };
    case 'CustomerNameChanged':
      return state.exists ? { ...state, name: event.data.name } : state;
    case 'DeliveryAddressAdded':
      return state.exists ? { ...state, addresses: [...state.addresses, event.data] } : state;
    case 'DeliveryAddressRemoved':
      return state.exists ? { ...state, addresses: state.addresses.filter((a) => a.addressId !== event.data.addressId) } : state;
    default:
      return assertNever(event, 'customer event');
  }
}

export const customerDecider: Decider<CustomerCommand, CustomerEvent, CustomerState, CustomerRejectionCode> = {
  initialState,
  decide,
  evolve,
};

/** The snapshot to persist for a state, or null when the customer does not exist (nothing to persist). */
export function toSnapshot(customerId: string, version: number, state: CustomerState): StateSnapshot<CustomerSnapshot> | null {
  if (!state.exists) return null;
  return { customerId, version, name: state.name, email: state.email, addresses: state.addresses, forgotten: state.forgotten };
}

export function fromSnapshot(snapshot: StateSnapshot<CustomerSnapshot>): { aggregateId: string; version: number; state: CustomerState } {
  if (snapshot.version < 1) throw new SnapshotError(`customer ${snapshot.customerId}: snapshot version ${snapshot.version} is not positive`);
  return {
    aggregateId: snapshot.customerId,
    version: snapshot.version,
    state: { exists: true, forgotten: snapshot.forgotten, name: snapshot.name, email: snapshot.email, addresses: snapshot.addresses },
  };
}
