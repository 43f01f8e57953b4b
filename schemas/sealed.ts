// The shape of a sealed personal-data value (docs/privacy.md): personal fields
// stay Avro `string`s and carry this text envelope instead of the plaintext,
//
//   pd1.<keyId>.<nonce>.<ciphertext+tag>
//
// keyId: 16 hex digits naming the customer's data key (a rotation gets a new
// id); nonce: 12 random bytes, base64url; ciphertext+tag: AES-256-GCM output
// and its 16-byte tag, base64url. The customer and field it belongs to are not
// written: they are the associated data, so a value moved to another customer
// or field does not open. Pure (no crypto here): the deciders check the shape,
// only roles holding keys can open it (infra/privacy).

export const SEALED_VERSION = 'pd1';
/** A sealed 100-character name is about 600 characters; nothing a client may send is larger than this sealed. */
export const SEALED_MAX_LENGTH = 2000;

const SEALED = /^pd1\.([0-9a-f]{16})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})$/;

export interface SealedParts {
  readonly keyId: string;
  readonly nonce: string;
  readonly body: string;
}

/** Whether a field value is a sealed envelope (rather than plaintext written before encryption, or by a system process). */
export function isSealed(value: string): boolean {
  return value.startsWith(`${SEALED_VERSION}.`) && SEALED.test(value);
}

export function parseSealed(value: string): SealedParts | undefined {
  const match = SEALED.exec(value);
  if (match === null) return undefined;
  const [, keyId, nonce, body] = match;
  if (keyId === undefined || nonce === undefined || body === undefined) return undefined;
  return { keyId, nonce, body };
}

/** The problem with a value that claims to be sealed, or null. */
export function sealedProblem(label: string, value: string): string | null {
  if (value.length > SEALED_MAX_LENGTH) return `${label} (sealed) must be at most ${SEALED_MAX_LENGTH} characters`;
  return parseSealed(value) === undefined ? `${label} is not a well-formed sealed value` : null;
}

/** Names of the personal fields, bound into each value's associated data. */
export const PERSONAL_FIELDS = ['name', 'email', 'address.line1', 'address.line2', 'address.city', 'address.postalCode', 'reason'] as const;
export type PersonalField = (typeof PERSONAL_FIELDS)[number];

/** Shown in place of a forgotten customer's personal data (docs/privacy.md). */
export const FORGOTTEN = '[forgotten]';
/** Shown in place of personal data whose key a reader does not have (not read yet, lost, corrupt). */
export const UNAVAILABLE = '[unavailable]';
