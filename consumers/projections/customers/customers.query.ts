// Query-side helpers for customers: HGETALL profile + HGETALL addresses -> response.
import type { Address } from '../../../schemas/generated/types';
import type { StoredAddress } from './customers.projection';

export interface CustomerView {
  readonly customerId: string;
  readonly name: string;
  readonly email: string;
  readonly signedUpAt: number;
  /** Saved delivery addresses in the order they were added. */
  readonly addresses: readonly { readonly addressId: string; readonly address: Address; readonly addedAt: number }[];
}

/** The profile, or null when the customer is unknown (empty profile hash). */
export function customerView(
  profile: Readonly<Record<string, string>>,
  addresses: Readonly<Record<string, string>>,
): CustomerView | null {
  const { customerId, name, email, signedUpAt } = profile;
  if (customerId === undefined || name === undefined || email === undefined) return null;
  const saved = Object.entries(addresses)
    .map(([addressId, json]) => ({ addressId, stored: JSON.parse(json) as StoredAddress }))
    .sort((a, b) => a.stored.seq - b.stored.seq)
    .map(({ addressId, stored }) => ({ addressId, address: stored.address, addedAt: stored.addedAt }));
  return { customerId, name, email, signedUpAt: Number(signedUpAt), addresses: saved };
}
