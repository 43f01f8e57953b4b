// What one role knows of the keys topic (docs/privacy.md), in memory: per
// customer, the wrapped data keys still alive and whether the customer was
// forgotten. Fed record by record (KafkaKeyStore reads the topic into it);
// no Kafka and no clock here, so tests drive it directly.
//
// Records on restaurant.privacy.data-keys, JSON values, partitioned by customer id:
//   key <customerId>/<keyId>   {"v":1,"kind":"data-key",...}   one per data key (rotation adds one)
//   key <customerId>/forgotten {"v":1,"kind":"forgotten",...}  the customer was forgotten; kept forever
//   null value                                                 tombstone: that data key is destroyed
import type { WrappedKey } from './crypto';

export interface DataKeyRecord extends WrappedKey {
  readonly v: 1;
  readonly kind: 'data-key';
  readonly createdAt: number;
  /** The e-mail reservation id taken at sign-up with this key, so forgetting can release it. */
  readonly emailReservation: string | null;
}

export interface ForgottenRecord {
  readonly v: 1;
  readonly kind: 'forgotten';
  readonly customerId: string;
  readonly forgottenAt: number;
}

export type KeyTopicRecord = DataKeyRecord | ForgottenRecord;

export type CustomerKeys =
  | { readonly status: 'unknown' }
  | { readonly status: 'forgotten' }
  | { readonly status: 'active'; readonly keys: ReadonlyMap<string, DataKeyRecord>; readonly current: DataKeyRecord };

export function dataKeyRecordKey(customerId: string, keyId: string): string {
  return `${customerId}/${keyId}`;
}

export function forgottenRecordKey(customerId: string): string {
  return `${customerId}/forgotten`;
}

/** A record value, or undefined when the bytes are not one this version knows (they are then ignored). */
export function parseKeyTopicRecord(bytes: Buffer): KeyTopicRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (r['v'] !== 1 || typeof r['customerId'] !== 'string') return undefined;
  if (r['kind'] === 'forgotten' && typeof r['forgottenAt'] === 'number') return r as unknown as ForgottenRecord;
  if (
    r['kind'] === 'data-key' &&
    typeof r['keyId'] === 'string' &&
    typeof r['masterKeyId'] === 'string' &&
    typeof r['wrapped'] === 'string' &&
    typeof r['createdAt'] === 'number' &&
    (r['emailReservation'] === null || typeof r['emailReservation'] === 'string')
  ) {
    return r as unknown as DataKeyRecord;
  }
  return undefined;
}

export class KeyRing {
  private readonly keys = new Map<string, Map<string, DataKeyRecord>>();
  private readonly forgotten = new Set<string>();
  /** Kafka record key -> (customer, key id), to apply tombstones. */
  private readonly byRecordKey = new Map<string, { customerId: string; keyId: string }>();

  /** Applies one record of the topic; `value` undefined is a tombstone. */
  apply(recordKey: string, value: KeyTopicRecord | undefined): void {
    if (value === undefined) {
      const known = this.byRecordKey.get(recordKey);
      if (known === undefined) return;
      this.byRecordKey.delete(recordKey);
      const ring = this.keys.get(known.customerId);
      ring?.delete(known.keyId);
      if (ring?.size === 0) this.keys.delete(known.customerId);
      return;
    }
    if (value.kind === 'forgotten') {
      this.forgotten.add(value.customerId);
      return;
    }
    this.byRecordKey.set(recordKey, { customerId: value.customerId, keyId: value.keyId });
    const ring = this.keys.get(value.customerId) ?? new Map<string, DataKeyRecord>();
    ring.set(value.keyId, value);
    this.keys.set(value.customerId, ring);
  }

  /** Forgotten wins over any key still on the topic (a tombstone not yet read, or a key created in a race with the forget). */
  customer(customerId: string): CustomerKeys {
    if (this.forgotten.has(customerId)) return { status: 'forgotten' };
    const ring = this.keys.get(customerId);
    if (ring === undefined || ring.size === 0) return { status: 'unknown' };
    let current: DataKeyRecord | undefined;
    for (const record of ring.values()) {
      if (current === undefined || record.createdAt > current.createdAt || (record.createdAt === current.createdAt && record.keyId > current.keyId)) current = record;
    }
    if (current === undefined) return { status: 'unknown' };
    return { status: 'active', keys: ring, current };
  }

  /** Every data key still known for a customer (to tombstone them all on a forget), forgotten or not. */
  recordsOf(customerId: string): readonly DataKeyRecord[] {
    return [...(this.keys.get(customerId)?.values() ?? [])];
  }

  get customers(): number {
    return this.keys.size;
  }
}
