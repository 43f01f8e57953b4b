// Query-side helpers for customers: HGETALL profile + HGETALL addresses -> response.
import type { Address } from '../../../schemas/generated/types';
import { FORGOTTEN } from '../../../schemas/sealed';
import type { PersonalFieldOpener } from '../orders/orders.query';
import type { StoredAddress } from './customers.projection';

export interface CustomerView {
  readonly customerId: string;
  readonly name: string;
  readonly email: string;
  readonly signedUpAt: number;
  /** The customer was forgotten: name and email read "[forgotten]" and no address is kept (docs/privacy.md). */
  readonly forgotten: boolean;
  /** Saved delivery addresses in the order they were added. */
  readonly addresses: readonly { readonly addressId: string; readonly address: Address; readonly addedAt: number }[];
}

/** The profile, or null when the customer is unknown (empty profile hash). */
export function customerView(
  profile: Readonly<Record<string, string>>,
  addresses: Readonly<Record<string, string>>,
): CustomerView | null {
  const { customerId, name, email, signedUpAt, forgotten } = profile;
  if (customerId === undefined || name === undefined || email === undefined) return null;
  const saved = Object.entries(addresses)
    .map(([addressId, json]) => ({ addressId, stored: JSON.parse(json) as StoredAddress }))
    .sort((a, b) => a.stored.seq - b.stored.seq)
    .map(({ addressId, stored }) => ({ addressId, address: stored.address, addedAt: stored.addedAt }));
  return { customerId, name, email, signedUpAt: Number(signedUpAt), forgotten: forgotten === '1', addresses: saved };
}

/** The view with its sealed name, email and addresses opened with the customer's key, or placeholders (docs/privacy.md). */
export function openCustomerView(view: CustomerView, opener: PersonalFieldOpener): CustomerView {
  const id = view.customerId;
  if (view.forgotten) return { ...view, name: FORGOTTEN, email: FORGOTTEN, addresses: [] };
  return {
    ...view,
    name: opener.open(id, 'name', view.name),
    email: opener.open(id, 'email', view.email),
    addresses: view.addresses.map((a) => ({ ...a, address: opener.openAddress(id, a.address) })),
  };
}
