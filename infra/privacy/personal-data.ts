// Sealing and opening the personal fields of the domain's shapes (docs/privacy.md).
//
// Sealing (the gateway): every personal field of a command is replaced by its
// sealed envelope before the command is written. Opening (the query API): a
// sealed field is shown in plaintext while the customer's key is known, as
// FORGOTTEN once the customer was forgotten, and as UNAVAILABLE when the key
// cannot be had (not read yet, lost, corrupt); plaintext written before
// encryption, and text written by the system's own processes, pass as they are.
import type { Address } from '../../schemas/generated/types';
import { FORGOTTEN, isSealed, parseSealed, UNAVAILABLE, type PersonalField } from '../../schemas/sealed';
import type { Logger } from '../logging';
import { open, seal, type DataKey } from './crypto';
import type { KeySource } from './key-store';

export { FORGOTTEN, UNAVAILABLE };

const ADDRESS_FIELDS = [
  ['line1', 'address.line1'],
  ['city', 'address.city'],
  ['postalCode', 'address.postalCode'],
] as const;

/** An address with its lines sealed; the country (an ISO code, not personal on its own) stays readable for validation and statistics. */
export function sealAddress(key: DataKey, address: Address): Address {
  const sealed = { ...address };
  for (const [name, field] of ADDRESS_FIELDS) sealed[name] = seal(key, field, address[name]);
  sealed.line2 = address.line2 === null ? null : seal(key, 'address.line2', address.line2);
  return sealed;
}

/** How many times each customer's unavailable data was logged: once per customer, not per value. */
const REPORTED_LIMIT = 10_000;

export class PersonalDataOpener {
  private readonly reported = new Set<string>();

  constructor(
    private readonly keys: KeySource,
    private readonly logger: Logger,
  ) {}

  /** The plaintext of one field of `customerId`'s, or a placeholder. */
  open(customerId: string, field: PersonalField, value: string): string {
    if (!isSealed(value)) return value;
    const keys = this.keys.customer(customerId);
    if (keys.status === 'forgotten') return FORGOTTEN;
    const keyId = parseSealed(value)?.keyId;
    const record = keys.status === 'active' && keyId !== undefined ? keys.keys.get(keyId) : undefined;
    if (record === undefined) {
      this.report(customerId, keys.status === 'unknown' ? 'no data key known for this customer' : 'the data key a value names is not known');
      return UNAVAILABLE;
    }
    try {
      return open(this.keys.dataKey(record), field, value);
    } catch (error) {
      this.report(customerId, 'a value or data key did not authenticate', error);
      return UNAVAILABLE;
    }
  }

  openNullable(customerId: string, field: PersonalField, value: string | null): string | null {
    return value === null ? null : this.open(customerId, field, value);
  }

  openAddress(customerId: string, address: Address): Address {
    const opened = { ...address };
    for (const [name, field] of ADDRESS_FIELDS) opened[name] = this.open(customerId, field, address[name]);
    opened.line2 = this.openNullable(customerId, 'address.line2', address.line2);
    return opened;
  }

  /** Logs once per customer (the id only, never a value) that their personal data cannot be shown. */
  private report(customerId: string, reason: string, error?: unknown): void {
    if (this.reported.has(customerId)) return;
    if (this.reported.size >= REPORTED_LIMIT) this.reported.clear();
    this.reported.add(customerId);
    const cause = error instanceof Error ? { error: error.name, message: error.message } : {};
    this.logger.warn({ customerId, reason, ...cause }, 'personal data unavailable: shown as a placeholder until the key is back');
  }
}
