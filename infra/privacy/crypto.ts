// Crypto-shredding primitives (docs/privacy.md), on node:crypto only:
//
// * a personal value is sealed with the customer's data key: AES-256-GCM, a
//   random 96-bit nonce per value, the associated data binding it to the
//   envelope version, the customer, the field and the key id;
// * a data key is stored wrapped with the master key (AES-256-GCM again, bound
//   to the customer and key id), so the keys topic holds no usable key;
// * an e-mail reservation is keyed by an HMAC-SHA-256 of the normalised address.
//
// Destroying a customer's data keys (a tombstone on the keys topic) makes every
// value sealed for them unreadable wherever it was copied: that is the forget.
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { parseSealed, SEALED_VERSION, type PersonalField } from '../../schemas/sealed';
import { normalizeEmail } from '../../schemas/validation';

const ALGORITHM = 'aes-256-gcm';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/** A customer's data key, unwrapped: only in memory of the roles that seal or open. */
export interface DataKey {
  readonly customerId: string;
  /** 16 hex digits; a new key (rotation) gets a new id, and every value names the key it was sealed with. */
  readonly keyId: string;
  readonly key: Buffer;
}

/** The master key that wraps data keys (from a key file, the environment, or a KMS: infra/privacy/settings.ts). */
export interface MasterKey {
  /** A fingerprint of the key, recorded beside each wrapped data key, so a master-key rotation knows what to rewrap. */
  readonly id: string;
  readonly key: Buffer;
}

/** The value could not be opened: tampered with, moved to another customer or field, or sealed with another key. */
export class SealedValueError extends Error {
  override readonly name = 'SealedValueError';
}

function checkKey(key: Buffer, what: string): void {
  if (key.length !== KEY_BYTES) throw new RangeError(`${what} must be ${KEY_BYTES} bytes, got ${key.length}`);
}

export function masterKey(key: Buffer): MasterKey {
  checkKey(key, 'the master key');
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 16), key };
}

export function newDataKey(customerId: string): DataKey {
  return { customerId, keyId: randomBytes(8).toString('hex'), key: randomBytes(KEY_BYTES) };
}

function associatedData(customerId: string, field: PersonalField, keyId: string): Buffer {
  // A JSON array: no choice of customer id or field can make two different bindings equal.
  return Buffer.from(JSON.stringify([SEALED_VERSION, customerId, field, keyId]), 'utf8');
}

/** The sealed envelope of `plaintext` for one customer's field. */
export function seal(dataKey: DataKey, field: PersonalField, plaintext: string): string {
  checkKey(dataKey.key, 'a data key');
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, dataKey.key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(dataKey.customerId, field, dataKey.keyId));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${SEALED_VERSION}.${dataKey.keyId}.${nonce.toString('base64url')}.${body.toString('base64url')}`;
}

/** The key id a sealed value names, or undefined when it is not a sealed value. */
export function sealedKeyId(value: string): string | undefined {
  return parseSealed(value)?.keyId;
}

/** Opens a sealed value with the key it names; throws SealedValueError when it does not authenticate. */
export function open(dataKey: DataKey, field: PersonalField, sealed: string): string {
  const parts = parseSealed(sealed);
  if (parts === undefined) throw new SealedValueError(`the ${field} value is not a sealed value`);
  if (parts.keyId !== dataKey.keyId) throw new SealedValueError(`the ${field} value was sealed with key ${parts.keyId}, not ${dataKey.keyId}`);
  const nonce = Buffer.from(parts.nonce, 'base64url');
  const body = Buffer.from(parts.body, 'base64url');
  if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) throw new SealedValueError(`the ${field} value is truncated`);
  try {
    const decipher = createDecipheriv(ALGORITHM, dataKey.key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(dataKey.customerId, field, dataKey.keyId));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch (error) {
    throw new SealedValueError(`the ${field} value does not authenticate for this customer and key`, { cause: error });
  }
}

/** A data key as stored on the keys topic: wrapped with the master key. */
export interface WrappedKey {
  readonly customerId: string;
  readonly keyId: string;
  readonly masterKeyId: string;
  /** base64url: nonce (12) + ciphertext (32) + tag (16). */
  readonly wrapped: string;
}

function wrapAad(customerId: string, keyId: string): Buffer {
  return Buffer.from(JSON.stringify(['data-key', customerId, keyId]), 'utf8');
}

export function wrapKey(master: MasterKey, dataKey: DataKey): WrappedKey {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, master.key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(wrapAad(dataKey.customerId, dataKey.keyId));
  const body = Buffer.concat([nonce, cipher.update(dataKey.key), cipher.final(), cipher.getAuthTag()]);
  return { customerId: dataKey.customerId, keyId: dataKey.keyId, masterKeyId: master.id, wrapped: body.toString('base64url') };
}

export function unwrapKey(master: MasterKey, wrapped: WrappedKey): DataKey {
  if (wrapped.masterKeyId !== master.id) throw new SealedValueError(`data key ${wrapped.keyId} is wrapped with master key ${wrapped.masterKeyId}, not ${master.id}`);
  const bytes = Buffer.from(wrapped.wrapped, 'base64url');
  if (bytes.length !== NONCE_BYTES + KEY_BYTES + TAG_BYTES) throw new SealedValueError(`data key ${wrapped.keyId} is truncated`);
  try {
    const decipher = createDecipheriv(ALGORITHM, master.key, bytes.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(wrapAad(wrapped.customerId, wrapped.keyId));
    decipher.setAuthTag(bytes.subarray(NONCE_BYTES + KEY_BYTES));
    const key = Buffer.concat([decipher.update(bytes.subarray(NONCE_BYTES, NONCE_BYTES + KEY_BYTES)), decipher.final()]);
    return { customerId: wrapped.customerId, keyId: wrapped.keyId, key };
  } catch (error) {
    throw new SealedValueError(`data key ${wrapped.keyId} of a customer does not unwrap with the master key`, { cause: error });
  }
}

/** Prefix of e-mail reservation ids that are keyed hashes (older reservations are keyed by the address itself). */
export const EMAIL_KEY_PREFIX = 'eh1.';

/** The id of the e-mail reservation aggregate for an address: HMAC-SHA-256 of the normalised address under the configured secret. */
export function emailReservationId(secret: Buffer, email: string): string {
  return EMAIL_KEY_PREFIX + createHmac('sha256', secret).update(normalizeEmail(email), 'utf8').digest('hex');
}
