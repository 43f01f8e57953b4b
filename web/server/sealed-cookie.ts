// Short-lived cookies the web role writes and reads back itself, sealed
// (encrypted and authenticated: JWE, dir + A256GCM, with jose) so the browser
// can neither read nor forge them. The OIDC login keeps its `state`, `nonce`
// and PKCE verifier in one between /auth/login and /auth/callback, and hands
// the signed-in tab its session through another (docs/web-ui.md, "Signing
// in"). Nothing is kept on the server: any number of web instances, no store.
import { randomBytes } from 'node:crypto';
import { EncryptJWT, jwtDecrypt, type JWTPayload } from 'jose';

export interface CookieOptions {
  /** Only sent back to paths under this one. */
  readonly path: string;
  readonly maxAgeSeconds: number;
  /** Set when the web UI is served over https (WEB_PUBLIC_URL). */
  readonly secure: boolean;
}

/** A Set-Cookie value: HttpOnly, SameSite=Lax (sent on the provider's top-level redirect back, never on a cross-site POST). */
export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  const parts = [`${name}=${value}`, `Path=${options.path}`, `Max-Age=${options.maxAgeSeconds}`, 'HttpOnly', 'SameSite=Lax'];
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}

/** Clears a cookie set with {@link serializeCookie}. */
export function clearCookie(name: string, options: Omit<CookieOptions, 'maxAgeSeconds'>): string {
  return serializeCookie(name, '', { ...options, maxAgeSeconds: 0 });
}

/** The value of one cookie in a Cookie header (undefined when absent). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The names of the cookies in a Cookie header. */
export function cookieNames(header: string | undefined): string[] {
  if (header === undefined) return [];
  return header
    .split(';')
    .map((part) => part.slice(0, Math.max(0, part.indexOf('='))).trim())
    .filter((name) => name !== '');
}

export interface Sealer {
  seal(payload: JWTPayload, ttlSeconds: number): Promise<string>;
  /** The payload, or undefined when the value is missing, forged, from another key or expired. */
  open(value: string | undefined): Promise<JWTPayload | undefined>;
}

/**
 * `key`: 32 bytes. By default a new random key per process: a login started
 * before a restart of this web instance is asked to start again.
 */
export function createSealer(key: Uint8Array = randomBytes(32), clock: () => number = Date.now): Sealer {
  if (key.length !== 32) throw new Error('a sealing key is 32 bytes');
  return {
    async seal(payload, ttlSeconds) {
      const now = Math.floor(clock() / 1000);
      return new EncryptJWT(payload)
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
        .setIssuedAt(now)
        .setExpirationTime(now + ttlSeconds)
        .encrypt(key);
    },
    async open(value) {
      if (value === undefined || value === '') return undefined;
      try {
        const { payload } = await jwtDecrypt(value, key, { currentDate: new Date(clock()), keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] });
        return payload;
      } catch {
        return undefined;
      }
    },
  };
}
