// Customers read model: a customer's profile (name, email) and saved delivery
// addresses. Blind writes only: each address is its own hash field, so adding
// or removing one needs no read of the others. An address carries the version
// of the event that added it (`seq`), which restores "in the order added" at
// query time.
import type { Address, EventMetadata } from '../../../schemas/generated/types';
import type { CustomerEvent } from '../../../schemas/messages';
import { FORGOTTEN } from '../../../schemas/sealed';
import { del, hdel, hset, type WriteOp } from '../shared/ops';
import type { Projection, ProjectionStep } from '../shared/projection';
import { customersKeys } from './customers.keys';
import { assertNever } from '../../../kernel/assert-never';

/** Value of one field of the addresses hash, stored as JSON. */
export interface StoredAddress {
  readonly address: Address;
  readonly addedAt: number;
  /** Aggregate version of the DeliveryAddressAdded event: the order of addition. */
  readonly seq: number;
}

export function customersOps(event: CustomerEvent, metadata: EventMetadata, keyspace: string): WriteOp[] {
  const keys = customersKeys(keyspace);
  const id = metadata.aggregateId;
  const updatedAt = String(metadata.occurredAt);
  switch (event.type) {
    case 'CustomerSignedUp':
      return [
        hset(keys.profile(id), { customerId: id, name: event.data.name, email: event.data.email, signedUpAt: updatedAt, updatedAt }),
      ];
    case 'CustomerNameChanged':
      return [hset(keys.profile(id), { name: event.data.name, updatedAt })];
    case 'DeliveryAddressAdded': {
      const stored: StoredAddress = { address: event.data.address, addedAt: metadata.occurredAt, seq: metadata.version };
      return [hset(keys.addresses(id), { [event.data.addressId]: JSON.stringify(stored) }), hset(keys.profile(id), { updatedAt })];
    }
    case 'DeliveryAddressRemoved':
      return [hdel(keys.addresses(id), event.data.addressId), hset(keys.profile(id), { updatedAt })];
    case 'CustomerForgotten':
      // The sealed values are unreadable once the keys are gone; they are dropped from the read model too.
      return [
        hset(keys.profile(id), { customerId: id, name: FORGOTTEN, email: FORGOTTEN, forgotten: '1', updatedAt }),
        del(keys.addresses(id)),
      ];
    default:
      return assertNever(event, 'customer event');
  }
}

export const customersProjection: Projection<CustomerEvent, null> = {
  readModel: 'customers',
  handles: new Set<CustomerEvent['type']>(['CustomerSignedUp', 'CustomerNameChanged', 'DeliveryAddressAdded', 'DeliveryAddressRemoved', 'CustomerForgotten']),
  stateKey: () => null,
  initialState: null,
  apply: (_state, event, metadata, keyspace): ProjectionStep<null> => ({ state: null, ops: customersOps(event, metadata, keyspace) }),
};
