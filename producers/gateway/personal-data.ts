// The gateway seals personal data before any command is written (docs/privacy.md):
// the only place plaintext names, e-mails, addresses and customers' free text
// exist on the command side is the request being handled. Commands leave here
// with those fields sealed with the customer's data key, and e-mail
// reservations are addressed by a keyed hash of the address.
import type { Actor, Address } from '../../schemas/generated/types';
import type { DomainCommand } from '../../schemas/messages';
import { normalizeAddress } from '../../schemas/validation';
import { seal, type DataKey } from '../../infra/privacy/crypto';
import { sealAddress } from '../../infra/privacy/personal-data';
import { actsAsOwner } from '../shared/authorization';
import { errorReply, type HttpReply } from './responses';

/** What the gateway needs of the privacy layer: keys to seal with, reservation ids, the forget. */
export interface GatewayPrivacy {
  /** The e-mail reservation aggregate id for an address (a keyed hash of its normalised form). */
  reservationId(email: string): string;
  /**
   * The customer's key to seal with (created when they have none). With an
   * `emailReservation`, a key recording that reservation (a new one unless the
   * current key already records it), so a forget can release it.
   * Throws CustomerForgottenError for a forgotten customer.
   */
  sealingKey(customerId: string, options?: { readonly emailReservation?: string }): Promise<DataKey>;
  /** The e-mail reservations recorded with the customer's keys. */
  emailReservationsOf(customerId: string): Promise<readonly string[]>;
  /** Destroys the customer's data keys (idempotent). */
  forget(customerId: string): Promise<void>;
  /** The customer an order belongs to, for sealing what staff write on it; undefined when no such order. */
  orderOwner(orderId: string): Promise<string | undefined>;
}

export type SealedCommand = { readonly ok: true; readonly command: DomainCommand } | { readonly ok: false; readonly reply: HttpReply };

function address(key: DataKey, value: Address): Address {
  return sealAddress(key, normalizeAddress(value));
}

/** Whose key seals a personal field of an order: the customer's own, or (for staff) the order's customer. */
async function orderOwner(privacy: GatewayPrivacy, orderId: string, actor: Actor, commandType: DomainCommand['type']): Promise<string | undefined> {
  // An owner-bound customer may act only on their own orders (the decider checks): their key is the one.
  if (actsAsOwner(actor, commandType)) return actor.subject;
  return privacy.orderOwner(orderId);
}

/** The command with its personal fields sealed, or the reply refusing it (an order staff name that does not exist). */
export async function sealCommand(privacy: GatewayPrivacy, command: DomainCommand, aggregateId: string, actor: Actor): Promise<SealedCommand> {
  switch (command.type) {
    case 'ChangeCustomerName': {
      const key = await privacy.sealingKey(aggregateId);
      return { ok: true, command: { type: command.type, data: { name: seal(key, 'name', command.data.name.trim()) } } };
    }
    case 'AddDeliveryAddress': {
      const key = await privacy.sealingKey(aggregateId);
      return { ok: true, command: { type: command.type, data: { addressId: command.data.addressId, address: address(key, command.data.address) } } };
    }
    case 'SetDeliveryAddress': {
      const owner = await orderOwner(privacy, aggregateId, actor, command.type);
      if (owner === undefined) return { ok: false, reply: errorReply(404, 'order_not_found', 'no order with this id') };
      const key = await privacy.sealingKey(owner);
      return { ok: true, command: { type: command.type, data: { address: address(key, command.data.address) } } };
    }
    case 'CancelOrder': {
      // A customer's own words are theirs; a reason staff give is the restaurant's and stays readable.
      if (!actsAsOwner(actor, command.type)) return { ok: true, command };
      const key = await privacy.sealingKey(actor.subject);
      return { ok: true, command: { type: command.type, data: { reason: seal(key, 'reason', command.data.reason.trim()) } } };
    }
    default:
      return { ok: true, command };
  }
}
