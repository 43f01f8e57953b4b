// Who is using this tab: a bearer token with its subject and roles, kept in
// sessionStorage (per tab, gone when the tab closes). Screens follow it with
// useSession(). docs/web-ui.md, "Signing in".
import { useEffect, useState } from 'preact/hooks';

export type Role = 'customer' | 'kitchen' | 'courier' | 'manager' | 'admin';

export interface Session {
  readonly token: string;
  readonly subject: string;
  readonly roles: readonly Role[];
  /** Epoch ms. */
  readonly expiresAt: number;
  /** Signed in at an identity provider: where signing out goes next (its logout), after this tab forgets the token. */
  readonly signOutUrl?: string;
  /** From the provider's ID token: fills a first-time customer's profile form. */
  readonly profile?: { readonly name?: string; readonly email?: string };
}

const KEY = 'restaurant.session';
const listeners = new Set<(session: Session | null) => void>();

function isSession(value: unknown): value is Session {
  const v = value as Partial<Session> | null;
  return typeof v === 'object' && v !== null && typeof v.token === 'string' && typeof v.subject === 'string' && Array.isArray(v.roles) && typeof v.expiresAt === 'number';
}

export function currentSession(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (raw === null) return null;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (isSession(parsed) && parsed.expiresAt > Date.now()) return parsed;
  } catch {
    // unreadable: treated as signed out
  }
  sessionStorage.removeItem(KEY);
  return null;
}

function publish(session: Session | null): void {
  for (const listener of listeners) listener(session);
}

/**
 * Keeps the session for this tab. `quietly`: the requests can use it, but the
 * screens do not switch to signed-in yet (a sign-up that is still creating the
 * account); signIn(session) again announces it.
 */
export function signIn(session: Session, { quietly = false }: { quietly?: boolean } = {}): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
  if (!quietly) publish(session);
}

export function signOut(): void {
  if (sessionStorage.getItem(KEY) === null) return;
  sessionStorage.removeItem(KEY);
  publish(null);
}

/** The Sign out button: this tab forgets its token, then, signed in at a provider, signs out there too. */
export function signOutEverywhere(): void {
  const next = currentSession()?.signOutUrl;
  signOut();
  // Only a path on this origin (never //elsewhere).
  if (next !== undefined && /^\/(?!\/)/.test(next)) location.assign(next);
}

export function useSession(): Session | null {
  const [session, setSession] = useState(currentSession);
  useEffect(() => {
    listeners.add(setSession);
    return () => void listeners.delete(setSession);
  }, []);
  return session;
}

export const hasRole = (session: Session | null, role: Role): boolean => session !== null && session.roles.includes(role);

export interface AuthConfig {
  readonly mode: 'local' | 'oidc' | 'disabled';
  readonly devSignIn: boolean;
  /** Where configured: the provider's name for the button, and where the login starts (the web role's /auth/login). */
  readonly oidc?: { readonly issuer: string; readonly providerName: string; readonly loginUrl: string };
}

export async function authConfig(): Promise<AuthConfig> {
  const res = await fetch('/auth/config', { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`the sign-in settings could not be read (${res.status})`);
  return (await res.json()) as AuthConfig;
}

/** Development sign-in (local signing key only): a customer by email, staff by role. */
export async function devSignIn(request: { role: 'customer'; email: string } | { role: 'kitchen' | 'courier' | 'manager' }): Promise<Session> {
  const res = await fetch('/auth/dev-sign-in', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(request) });
  const body = (await res.json().catch(() => ({}))) as unknown;
  if (!res.ok) {
    const message = (body as { error?: { message?: string } }).error?.message;
    throw new Error(message ?? `signing in failed (${res.status})`);
  }
  if (!isSession(body)) throw new Error('the sign-in answer was not understood');
  return body;
}

/**
 * After the provider sent the browser back (#/signed-in): the web role hands
 * this tab the session it made from the code exchange, once.
 */
export async function collectProviderSession(handoff: string): Promise<Session> {
  const res = await fetch(`/auth/session?handoff=${encodeURIComponent(handoff)}`, { method: 'POST', headers: { accept: 'application/json' } });
  const body = (await res.json().catch(() => ({}))) as unknown;
  if (!res.ok) {
    const message = (body as { error?: { message?: string } }).error?.message;
    throw new Error(message === undefined ? `signing in failed (${res.status})` : `Signing in did not complete: ${message}.`);
  }
  if (!isSession(body)) throw new Error('the sign-in answer was not understood');
  return body;
}
