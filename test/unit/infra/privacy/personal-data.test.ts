// Opening personal data on the query side: plaintext while the key is known,
// "[forgotten]" once the customer is forgotten, "[unavailable]" when the key is
// missing or corrupt, logged once per customer (infra/privacy).
import { randomBytes } from 'node:crypto';
import { masterKey, newDataKey, seal, unwrapKey, wrapKey, type DataKey } from '../../../../infra/privacy/crypto';
import { dataKeyRecordKey, forgottenRecordKey, KeyRing, parseKeyTopicRecord, type DataKeyRecord } from '../../../../infra/privacy/key-ring';
import type { KeySource } from '../../../../infra/privacy/key-store';
import { FORGOTTEN, PersonalDataOpener, sealAddress, UNAVAILABLE } from '../../../../infra/privacy/personal-data';
import type { Logger } from '../../../../infra/logging';

const master = masterKey(randomBytes(32));

function record(key: DataKey, createdAt: number, emailReservation: string | null = null): DataKeyRecord {
  return { v: 1, kind: 'data-key', ...wrapKey(master, key), createdAt, emailReservation };
}

function source(ring: KeyRing): KeySource {
  return { customer: (id) => ring.customer(id), dataKey: (r) => unwrapKey(master, r) };
}

function capture(): { logger: Logger; lines: { fields: Record<string, unknown>; message: string }[] } {
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  const logger = { warn: (fields: Record<string, unknown>, message: string) => lines.push({ fields, message }) } as unknown as Logger;
  return { logger, lines };
}

describe('the key ring', () => {
  it('keeps every live key, the newest current; tombstones remove them; forgotten wins', () => {
    const ring = new KeyRing();
    const first = newDataKey('c1');
    const second = newDataKey('c1');
    ring.apply(dataKeyRecordKey('c1', first.keyId), record(first, 1, 'eh1.aa'));
    ring.apply(dataKeyRecordKey('c1', second.keyId), record(second, 2));
    const keys = ring.customer('c1');
    expect(keys.status === 'active' && keys.current.keyId).toBe(second.keyId);
    expect(ring.recordsOf('c1').map((r) => r.emailReservation)).toEqual(['eh1.aa', null]);
    ring.apply(dataKeyRecordKey('c1', second.keyId), undefined);
    const after = ring.customer('c1');
    expect(after.status === 'active' && after.current.keyId).toBe(first.keyId);
    ring.apply(forgottenRecordKey('c1'), { v: 1, kind: 'forgotten', customerId: 'c1', forgottenAt: 3 });
    expect(ring.customer('c1').status).toBe('forgotten');
    expect(ring.customer('c2').status).toBe('unknown');
  });

  it('reads only records of the known format', () => {
    const key = newDataKey('c1');
    expect(parseKeyTopicRecord(Buffer.from(JSON.stringify(record(key, 1))))?.kind).toBe('data-key');
    expect(parseKeyTopicRecord(Buffer.from('not json'))).toBeUndefined();
    expect(parseKeyTopicRecord(Buffer.from(JSON.stringify({ v: 2, kind: 'data-key', customerId: 'c1' })))).toBeUndefined();
  });
});

describe('the personal data opener', () => {
  it('opens sealed fields, passes plaintext through, and masks a forgotten customer', () => {
    const ring = new KeyRing();
    const key = newDataKey('c1');
    ring.apply(dataKeyRecordKey('c1', key.keyId), record(key, 1));
    const { logger } = capture();
    const opener = new PersonalDataOpener(source(ring), logger);
    const address = sealAddress(key, { line1: 'Dam 1', line2: 'top floor', city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' });
    expect(address.country).toBe('NL');
    expect(JSON.stringify(address)).not.toMatch(/Dam|Amsterdam|1012|floor/);
    expect(opener.openAddress('c1', address)).toEqual({ line1: 'Dam 1', line2: 'top floor', city: 'Amsterdam', postalCode: '1012 JS', country: 'NL' });
    expect(opener.open('c1', 'name', 'Written before encryption')).toBe('Written before encryption');

    ring.apply(forgottenRecordKey('c1'), { v: 1, kind: 'forgotten', customerId: 'c1', forgottenAt: 2 });
    ring.apply(dataKeyRecordKey('c1', key.keyId), undefined);
    expect(opener.openAddress('c1', address)).toEqual({ line1: FORGOTTEN, line2: FORGOTTEN, city: FORGOTTEN, postalCode: FORGOTTEN, country: 'NL' });
  });

  it('shows a value whose key is missing or corrupt as unavailable, and logs that once per customer without the value', () => {
    const ring = new KeyRing();
    const key = newDataKey('c1');
    const { logger, lines } = capture();
    const opener = new PersonalDataOpener(source(ring), logger);
    const sealed = seal(key, 'name', 'Ada Lovelace');
    for (let i = 0; i < 5; i += 1) expect(opener.open('c1', 'name', sealed)).toBe(UNAVAILABLE);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.fields).toMatchObject({ customerId: 'c1' });
    expect(JSON.stringify(lines)).not.toContain('Ada');

    // A corrupt key record: unwraps to nothing usable.
    const bad = record(key, 1);
    ring.apply(dataKeyRecordKey('c2', key.keyId), { ...bad, customerId: 'c2' });
    const other = seal({ ...key, customerId: 'c2' }, 'name', 'Bob');
    expect(opener.open('c2', 'name', other)).toBe(UNAVAILABLE);
    expect(opener.open('c2', 'name', other)).toBe(UNAVAILABLE);
    expect(lines).toHaveLength(2);

    // The key comes back: the value shows again.
    ring.apply(dataKeyRecordKey('c1', key.keyId), record(key, 1));
    expect(opener.open('c1', 'name', sealed)).toBe('Ada Lovelace');
  });
});
