// Showing amounts, times and durations (pure).
import type { Address, Money } from './types';

const MINOR_DIGITS: Record<string, number> = { JPY: 0, KRW: 0, ISK: 0, BHD: 3, KWD: 3, OMR: 3, TND: 3 };

/** 1250 EUR → "€12.50" (the amount comes from the read model; nothing is computed here). */
export function formatMoney(money: Money, locale = 'en-GB'): string {
  const digits = MINOR_DIGITS[money.currency] ?? 2;
  const major = money.amountMinor / 10 ** digits;
  try {
    return new Intl.NumberFormat(locale, { style: 'currency', currency: money.currency, minimumFractionDigits: digits, maximumFractionDigits: digits }).format(major);
  } catch {
    return `${major.toFixed(digits)} ${money.currency}`;
  }
}

export function formatMoneys(amounts: readonly Money[]): string {
  return amounts.length === 0 ? '—' : amounts.map((m) => formatMoney(m)).join(' + ');
}

/** 75_000 → "1 min 15 s"; under a minute "42 s"; an hour and more "1 h 05 min". */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, '0')} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

export function formatTime(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function formatDateTime(epochMs: number): string {
  return new Date(epochMs).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatAddress(a: Address): string {
  return [a.line1, a.line2, `${a.postalCode} ${a.city}`, a.country].filter((p) => p !== null && p !== '').join(', ');
}

/** "12.50" in the currency's minor digits → 1250; undefined when it is not an amount. */
export function parseAmount(text: string, currency: string): number | undefined {
  const digits = MINOR_DIGITS[currency] ?? 2;
  const trimmed = text.trim().replace(',', '.');
  const pattern = digits === 0 ? /^\d+$/ : new RegExp(`^\\d+(\\.\\d{1,${digits}})?$`);
  if (!pattern.test(trimmed)) return undefined;
  const [whole = '0', fraction = ''] = trimmed.split('.');
  const minor = Number(whole) * 10 ** digits + Number(fraction.padEnd(digits, '0') || '0');
  return Number.isSafeInteger(minor) && minor > 0 ? minor : undefined;
}

/** The UTC day of an epoch ms, YYYY-MM-DD (sales are kept per UTC day). */
export function utcDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

export const CATEGORY_LABELS: Record<string, string> = { STARTER: 'Starters', MAIN: 'Mains', SIDE: 'Sides', DESSERT: 'Desserts', DRINK: 'Drinks', UNKNOWN: 'Other' };

export const STATUS_LABELS: Record<string, string> = {
  OPEN: 'Open',
  PLACED: 'Placed, waiting for payment',
  CONFIRMED: 'Confirmed',
  REJECTED: 'Rejected',
  PREPARING: 'Being prepared',
  READY: 'Ready for pick-up',
  DISPATCHED: 'On its way',
  DELIVERED: 'Delivered',
  CANCELLED: 'Cancelled',
  UNKNOWN: 'Unknown',
};
