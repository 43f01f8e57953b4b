// Strict readers for JSON request bodies and route params. Each reader takes an
// untrusted value and a field path, records every problem it finds (so a 400
// lists them all, not just the first) and returns the typed value only when the
// value is acceptable. The shape rules themselves (lengths, ranges, ISO codes)
// come from schemas/validation.ts, which the deciders apply again.
//
// Pure: no express, no clock, no randomness.
import type { Address, MenuCategory, Money } from '../../schemas/generated/types';
import { MenuCategorySymbols } from '../../schemas/generated/types';
import {
  normalizeAddress,
  validateAddress,
  validateCurrency,
  validateId,
  validatePrice,
  validateQuantity,
  type Problem,
} from '../../schemas/validation';

export interface FieldProblem {
  /** Dotted path of the offending value: `price.amountMinor`, `path.orderId`, `headers.If-Match`, or `body`. */
  readonly field: string;
  readonly message: string;
}

/** Reads one value; `undefined` input means the key was absent. Returns undefined after recording problems. */
export type FieldReader<T> = (value: unknown, field: string, problems: FieldProblem[]) => T | undefined;

type Shape = Readonly<Record<string, FieldReader<unknown>>>;
type ShapeValue<S extends Shape> = { -readonly [K in keyof S]: S[K] extends FieldReader<infer T> ? T : never };

/**
 * Keys that could reach Object.prototype through a careless merge. JSON.parse
 * turns them into ordinary own properties, so they would otherwise only show up
 * as "unknown field"; they are named explicitly so the intent is visible.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

const ROOT = '';
const label = (field: string): string => (field === ROOT ? 'body' : field);
const join = (parent: string, key: string): string => (parent === ROOT ? key : `${parent}.${key}`);

/** Category names offered to clients: every generated symbol except the UNKNOWN default. */
export const MENU_CATEGORIES: readonly MenuCategory[] = MenuCategorySymbols.filter((c) => c !== 'UNKNOWN');

/** A JSON object with exactly the keys of `shape` (readers decide which may be absent). */
export function object<S extends Shape>(shape: S): FieldReader<ShapeValue<S>> {
  return (value, field, problems) => {
    if (value === undefined) return required(field, problems);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push({ field: label(field), message: 'must be a JSON object' });
      return undefined;
    }
    const before = problems.length;
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (FORBIDDEN_KEYS.has(key)) problems.push({ field: join(field, key), message: `"${key}" is not allowed as a key` });
      else if (!Object.hasOwn(shape, key)) problems.push({ field: join(field, key), message: 'is not a known field' });
    }
    const result: Record<string, unknown> = {};
    for (const [key, reader] of Object.entries(shape)) {
      result[key] = reader(Object.hasOwn(record, key) ? record[key] : undefined, join(field, key), problems);
    }
    return problems.length === before ? (result as ShapeValue<S>) : undefined;
  };
}

/** Reads the whole request body; `field` of a body-level problem is `body`. */
export function readBody<T>(reader: FieldReader<T>, body: unknown, problems: FieldProblem[]): T | undefined {
  return reader(body, ROOT, problems);
}

/** Absent (or JSON null) becomes `fallback`; anything else must satisfy `reader`. */
export function optional<T, F>(reader: FieldReader<T>, fallback: F): FieldReader<T | F> {
  return (value, field, problems) => (value === undefined || value === null ? fallback : reader(value, field, problems));
}

function required(field: string, problems: FieldProblem[]): undefined {
  problems.push({ field: label(field), message: 'is required' });
  return undefined;
}

function check<T>(value: T, field: string, problems: FieldProblem[], problem: Problem): T | undefined {
  if (problem === null) return value;
  problems.push({ field, message: problem });
  return undefined;
}

// Unpaired UTF-16 surrogates cannot be encoded as UTF-8 (Avro strings, Kafka
// headers, logs) without being mangled into U+FFFD.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// C0 controls other than tab/newline/carriage return, DEL, and the C1 controls.
// Tab and newlines pass here only to be trimmed off the ends; inside a value the
// shared validators (schemas/validation.ts) reject them as they do all C0.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

/** Hygiene every string passes before its field rule: real Unicode, no control characters. */
function stringProblem(value: string): Problem {
  if (LONE_SURROGATE.test(value)) return 'must be valid Unicode text (it contains an unpaired surrogate)';
  if (CONTROL.test(value)) return 'must not contain control characters';
  return null;
}

interface StringOptions {
  /** Return the value with surrounding whitespace removed (free text); ids and codes are taken verbatim. */
  readonly trim?: boolean;
}

/** A string that passes the hygiene check and `rule` (which sees the untrimmed value, as the deciders do). */
export function string(rule: (value: string) => Problem, options: StringOptions = {}): FieldReader<string> {
  return (value, field, problems) => {
    if (value === undefined) return required(field, problems);
    if (typeof value !== 'string') {
      problems.push({ field, message: 'must be a string' });
      return undefined;
    }
    const ok = check(value, field, problems, stringProblem(value) ?? rule(value));
    return ok === undefined ? undefined : options.trim === true ? ok.trim() : ok;
  };
}

/** Free text (names, descriptions, reasons): validated by `rule`, returned trimmed. */
export const text = (rule: (value: string) => Problem): FieldReader<string> => string(rule, { trim: true });

/** An id chosen by a caller (customer, order, menu item, address). */
export const id = (name: string): FieldReader<string> => string((value) => validateId(name, value));

/** A JSON number that is a safe integer (rejects 1.5, 1e400, "3"), then `rule`. */
export function integer(rule: (value: number) => Problem): FieldReader<number> {
  return (value, field, problems) => {
    if (value === undefined) return required(field, problems);
    if (typeof value !== 'number') {
      problems.push({ field, message: 'must be a number' });
      return undefined;
    }
    if (!Number.isSafeInteger(value)) {
      problems.push({ field, message: 'must be a whole number within the safe integer range' });
      return undefined;
    }
    return check(value, field, problems, rule(value));
  };
}

export const quantity: FieldReader<number> = integer(validateQuantity);

// The shared validators judge whole records; to name the exact field at fault
// they are asked about one field at a time, the other fields held at a value
// known to be valid.
const VALID_ADDRESS: Address = { line1: 'x', line2: null, city: 'x', postalCode: 'x', country: 'NL' };
const addressField = (key: keyof Address) => (value: string) => validateAddress({ ...VALID_ADDRESS, [key]: value });

const moneyShape = object({
  amountMinor: integer((amountMinor) => validatePrice({ amountMinor, currency: 'EUR' })),
  currency: string(validateCurrency),
});

/** A positive price in whole minor units of an ISO 4217 currency. */
export const money: FieldReader<Money> = moneyShape;

const addressShape = object({
  line1: text(addressField('line1')),
  line2: optional(text(addressField('line2')), null),
  city: text(addressField('city')),
  postalCode: text(addressField('postalCode')),
  country: string(addressField('country')),
});

/** A delivery address, normalized (trimmed, empty line2 → null). */
export const address: FieldReader<Address> = (value, field, problems) => {
  const read = addressShape(value, field, problems);
  return read === undefined ? undefined : normalizeAddress(read);
};

export const menuCategory: FieldReader<MenuCategory> = (value, field, problems) => {
  const read = string((v) => ((MENU_CATEGORIES as readonly string[]).includes(v) ? null : `must be one of ${MENU_CATEGORIES.join(', ')}`))(
    value,
    field,
    problems,
  );
  return read as MenuCategory | undefined;
};

/** A request without a body: nothing, or an empty JSON object. */
export const noBody: FieldReader<Record<string, never>> = (value, field, problems) =>
  value === undefined ? {} : object({})(value, field, problems);
