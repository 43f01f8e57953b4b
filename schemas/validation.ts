// Pure shape validators shared by the gateway (request validation, 400s) and the
// deciders (which enforce them again regardless of who sent the command).
// Each returns null when the value is acceptable, else a human-readable problem.
import type { Address, Money } from './generated/types';
import { isSealed, sealedProblem } from './sealed';

export const LIMITS = Object.freeze({
  idMaxLength: 128,
  personNameMaxLength: 100,
  menuItemNameMaxLength: 100,
  descriptionMaxLength: 500,
  reasonMaxLength: 500,
  addressLineMaxLength: 200,
  emailMaxLength: 254,
  emailLocalPartMaxLength: 64,
  quantityMin: 1,
  quantityMax: 99,
});

export type Problem = string | null;

/**
 * The largest integer an Avro `long` carries exactly here: avsc refuses
 * anything above 2^53 - 2, one below Number.MAX_SAFE_INTEGER. Numbers clients
 * choose (prices, If-Match versions) stay at or below it, or their command
 * could not be encoded.
 */
export const MAX_EXACT_LONG = 9_007_199_254_740_990;

// Deliberately pragmatic: one @, no spaces, a dot in the domain. Deliverability
// is proven by sending mail, not by a regex.
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
function hasControlCharacters(value: string): boolean {
  for (let i = 0; i < value.length; i += 1) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** Trim and lower-case: the key of an email reservation and the basis of uniqueness. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function validateEmail(email: string): Problem {
  const trimmed = email.trim();
  if (trimmed.length === 0) return 'email is required';
  if (trimmed.length > LIMITS.emailMaxLength) return `email must be at most ${LIMITS.emailMaxLength} characters`;
  if (!EMAIL.test(trimmed)) return `"${trimmed}" is not a valid email address`;
  const local = trimmed.slice(0, trimmed.lastIndexOf('@'));
  if (local.length > LIMITS.emailLocalPartMaxLength) return `the part before @ must be at most ${LIMITS.emailLocalPartMaxLength} characters`;
  return null;
}

function validateText(label: string, value: string, max: number, required: boolean): Problem {
  const trimmed = value.trim();
  if (required && trimmed.length === 0) return `${label} is required`;
  if (trimmed.length > max) return `${label} must be at most ${max} characters`;
  if (hasControlCharacters(trimmed)) return `${label} must not contain control characters`;
  return null;
}

export const validatePersonName = (name: string): Problem => validateText('name', name, LIMITS.personNameMaxLength, true);
export const validateMenuItemName = (name: string): Problem => validateText('name', name, LIMITS.menuItemNameMaxLength, true);
export const validateDescription = (text: string): Problem => validateText('description', text, LIMITS.descriptionMaxLength, false);
export const validateReason = (reason: string): Problem => validateText('reason', reason, LIMITS.reasonMaxLength, true);

/** Ids chosen by callers (customer, menu item, order, address ids). */
export function validateId(label: string, id: string): Problem {
  if (id.length === 0) return `${label} is required`;
  if (id.length > LIMITS.idMaxLength) return `${label} must be at most ${LIMITS.idMaxLength} characters`;
  if (/\s/.test(id) || hasControlCharacters(id)) return `${label} must not contain whitespace`;
  return null;
}

export function validateCurrency(currency: string): Problem {
  return /^[A-Z]{3}$/.test(currency) ? null : `currency "${currency}" is not an ISO 4217 code (three upper-case letters)`;
}

/** A price: a positive whole number of minor units in a valid currency. */
export function validatePrice(price: Money): Problem {
  if (!Number.isSafeInteger(price.amountMinor)) return 'amountMinor must be a whole number of minor units';
  if (price.amountMinor <= 0) return 'price must be greater than zero';
  if (price.amountMinor > MAX_EXACT_LONG) return `price must be at most ${MAX_EXACT_LONG} minor units`;
  return validateCurrency(price.currency);
}

export function validateQuantity(quantity: number): Problem {
  if (!Number.isInteger(quantity) || quantity < LIMITS.quantityMin || quantity > LIMITS.quantityMax) {
    return `quantity must be a whole number from ${LIMITS.quantityMin} to ${LIMITS.quantityMax}`;
  }
  return null;
}

export function validateAddress(address: Address): Problem {
  return (
    validateText('line1', address.line1, LIMITS.addressLineMaxLength, true) ??
    (address.line2 === null ? null : validateText('line2', address.line2, LIMITS.addressLineMaxLength, false)) ??
    validateText('city', address.city, LIMITS.addressLineMaxLength, true) ??
    validateText('postalCode', address.postalCode, LIMITS.addressLineMaxLength, true) ??
    (/^[A-Z]{2}$/.test(address.country) ? null : `country "${address.country}" is not an ISO 3166-1 alpha-2 code`)
  );
}

/** The address with surrounding whitespace removed and an empty line2 as null. */
export function normalizeAddress(address: Address): Address {
  const line2 = address.line2?.trim() ?? '';
  return {
    line1: address.line1.trim(),
    line2: line2 === '' ? null : line2,
    city: address.city.trim(),
    postalCode: address.postalCode.trim(),
    country: address.country,
  };
}

/**
 * The deciders' check of a personal field (docs/privacy.md): a sealed value is
 * checked for its shape only (the command side holds no keys; the gateway
 * validated the plaintext before sealing it), plaintext as usual.
 */
export function validatePersonal(label: string, value: string, plain: (value: string) => Problem): Problem {
  return isSealed(value) ? sealedProblem(label, value) : plain(value);
}

/** validateAddress for an address whose lines may be sealed; the country is never sealed. */
export function validatePersonalAddress(address: Address): Problem {
  const sealed = [address.line1, address.line2 ?? '', address.city, address.postalCode].filter(isSealed);
  if (sealed.length === 0) return validateAddress(address);
  const plain = (label: string, value: string): Problem => (isSealed(value) ? sealedProblem(label, value) : `${label} must be sealed like the other lines`);
  return (
    plain('line1', address.line1) ??
    (address.line2 === null ? null : plain('line2', address.line2)) ??
    plain('city', address.city) ??
    plain('postalCode', address.postalCode) ??
    (/^[A-Z]{2}$/.test(address.country) ? null : `country "${address.country}" is not an ISO 3166-1 alpha-2 code`)
  );
}
