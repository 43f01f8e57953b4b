// A stable UUID-shaped id derived from what caused it: deciding the same cause
// again (a redelivered command, a process step re-run after a crash) yields the
// same ids, so what it writes is recognised as the same, not as new.
import { createHash } from 'node:crypto';

/** A version-5-shaped UUID from the SHA-256 of the parts (joined by NUL, so ('ab','c') ≠ ('a','bc')). */
export function deterministicId(...parts: readonly string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}
