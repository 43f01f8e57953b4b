// The crypto-shredding primitives: sealing, binding, tampering, key wrapping,
// rotation and the keyed e-mail hash (infra/privacy/crypto.ts).
import { randomBytes } from 'node:crypto';
import { emailReservationId, masterKey, newDataKey, open, seal, SealedValueError, unwrapKey, wrapKey } from '../../../../infra/privacy/crypto';
import { isSealed, parseSealed, sealedProblem } from '../../../../schemas/sealed';

describe('sealing a personal value', () => {
  const key = newDataKey('cust-1');

  it('opens to the plaintext, with a fresh nonce every time', () => {
    const a = seal(key, 'name', 'Ada Lovelace');
    const b = seal(key, 'name', 'Ada Lovelace');
    expect(a).not.toBe(b);
    expect(a).not.toContain('Ada');
    expect(isSealed(a)).toBe(true);
    expect(parseSealed(a)?.keyId).toBe(key.keyId);
    expect(open(key, 'name', a)).toBe('Ada Lovelace');
    expect(open(key, 'name', b)).toBe('Ada Lovelace');
  });

  it('keeps any text, including non-Latin and empty', () => {
    for (const text of ['', 'Zoë Ω 東京 🍕', 'x'.repeat(200)]) expect(open(key, 'address.line1', seal(key, 'address.line1', text))).toBe(text);
  });

  it('refuses a value whose ciphertext, nonce or tag was changed', () => {
    const sealed = seal(key, 'email', 'ada@example.com');
    const parts = sealed.split('.');
    const flip = (text: string, at: number): string => {
      const bytes = Buffer.from(text, 'base64url');
      bytes[at] = (bytes[at] ?? 0) ^ 1;
      return bytes.toString('base64url');
    };
    const body = parts[3] ?? '';
    const nonce = parts[2] ?? '';
    const tampered = [
      [parts[0], parts[1], nonce, flip(body, 0)].join('.'),
      [parts[0], parts[1], nonce, flip(body, Buffer.from(body, 'base64url').length - 1)].join('.'),
      [parts[0], parts[1], flip(nonce, 3), body].join('.'),
    ];
    for (const t of tampered) expect(() => open(key, 'email', t)).toThrow(SealedValueError);
  });

  it('is bound to its customer and field: moved elsewhere it does not open', () => {
    const sealed = seal(key, 'address.line1', 'Dam 1');
    expect(() => open(key, 'address.city', sealed)).toThrow(SealedValueError);
    const otherCustomerSameBytes = { ...key, customerId: 'cust-2' };
    expect(() => open(otherCustomerSameBytes, 'address.line1', sealed)).toThrow(SealedValueError);
  });

  it('names its key: a rotated key opens what it sealed, and values sealed before stay with the old key', () => {
    const rotated = newDataKey('cust-1');
    expect(rotated.keyId).not.toBe(key.keyId);
    const before = seal(key, 'name', 'Ada');
    const after = seal(rotated, 'name', 'Ada King');
    expect(parseSealed(after)?.keyId).toBe(rotated.keyId);
    expect(open(rotated, 'name', after)).toBe('Ada King');
    expect(open(key, 'name', before)).toBe('Ada');
    expect(() => open(rotated, 'name', before)).toThrow(/sealed with key/);
  });

  it('tells sealed values from plaintext by shape', () => {
    expect(isSealed('Ada Lovelace')).toBe(false);
    expect(isSealed('pd1.nothex.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA')).toBe(false);
    expect(sealedProblem('name', seal(key, 'name', 'Ada'))).toBeNull();
    expect(sealedProblem('name', `${seal(key, 'name', 'Ada')}!`)).toMatch(/not a well-formed sealed value/);
  });
});

describe('wrapping data keys with the master key', () => {
  const master = masterKey(randomBytes(32));

  it('round-trips, and the wrapped form holds no key bytes', () => {
    const key = newDataKey('cust-1');
    const wrapped = wrapKey(master, key);
    expect(Buffer.from(wrapped.wrapped, 'base64url').includes(key.key)).toBe(false);
    expect(wrapped.masterKeyId).toBe(master.id);
    expect(unwrapKey(master, wrapped).key.equals(key.key)).toBe(true);
  });

  it('refuses another master key, a moved or a tampered wrapping', () => {
    const wrapped = wrapKey(master, newDataKey('cust-1'));
    const other = masterKey(randomBytes(32));
    expect(() => unwrapKey(other, wrapped)).toThrow(/master key/);
    expect(() => unwrapKey({ ...other, id: master.id }, wrapped)).toThrow(SealedValueError);
    expect(() => unwrapKey(master, { ...wrapped, customerId: 'cust-2' })).toThrow(SealedValueError);
    const bytes = Buffer.from(wrapped.wrapped, 'base64url');
    bytes[20] = (bytes[20] ?? 0) ^ 1;
    expect(() => unwrapKey(master, { ...wrapped, wrapped: bytes.toString('base64url') })).toThrow(SealedValueError);
  });

  it('takes only 32-byte master keys', () => {
    expect(() => masterKey(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('e-mail reservation ids', () => {
  const secret = randomBytes(32);

  it('are the same for the same normalised address and never contain it', () => {
    const id = emailReservationId(secret, ' Ada@Example.com ');
    expect(id).toBe(emailReservationId(secret, 'ada@example.com'));
    expect(id).toMatch(/^eh1\.[0-9a-f]{64}$/);
    expect(id).not.toContain('ada');
    expect(id).not.toBe(emailReservationId(secret, 'bob@example.com'));
  });

  it('depend on the secret', () => {
    expect(emailReservationId(randomBytes(32), 'ada@example.com')).not.toBe(emailReservationId(secret, 'ada@example.com'));
  });
});
