// Development sign-in: with authentication in local-key mode (no
// AUTH_JWKS_URL, docs/security.md) the web role mints tokens with the same
// local signing key as `npm run token`, so a person can use the UI without an
// identity provider. It is not served in any other mode: where an OIDC
// provider is configured, tokens come from it (docs/web-ui.md).
//
// A customer signs in with an email; their subject (the customer id) is
// derived from it, standing in for the stable subject an identity provider
// would issue: the same email, the same customer, every time. Staff sign in
// as a role (kitchen, courier, manager); admin is never minted here.
import { createHash } from 'node:crypto';
import { mintToken } from '../../infra/auth/local-issuer';
import type { SigningKey } from '../../infra/auth/local-keys';
import type { AuthSettings } from '../../infra/auth/settings';
import { normalizeEmail, validateEmail } from '../../schemas/validation';

export const DEV_SIGN_IN_ROLES = ['customer', 'kitchen', 'courier', 'manager'] as const;
export type DevSignInRole = (typeof DEV_SIGN_IN_ROLES)[number];

/** Lifetime of a development token: a working day. */
export const DEV_TOKEN_TTL_SECONDS = 8 * 3600;

export interface DevSession {
  readonly token: string;
  readonly subject: string;
  readonly roles: readonly DevSignInRole[];
  /** Epoch ms. */
  readonly expiresAt: number;
}

export type DevSignInRequest = { readonly role: 'customer'; readonly email: string } | { readonly role: Exclude<DevSignInRole, 'customer'> };

/** The customer id an email signs in as. */
export function customerIdForEmail(email: string): string {
  return `cust-${createHash('sha256').update(normalizeEmail(email)).digest('hex').slice(0, 24)}`;
}

/** Reads a sign-in request body; a string is a problem to answer with 400. */
export function parseDevSignIn(body: unknown): DevSignInRequest | string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body must be a JSON object { role, email? }';
  const { role, email, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) return `unknown field ${unknown[0]}`;
  if (typeof role !== 'string' || !(DEV_SIGN_IN_ROLES as readonly string[]).includes(role)) return `role must be one of ${DEV_SIGN_IN_ROLES.join(', ')}`;
  if (role !== 'customer') {
    if (email !== undefined) return 'email is only for customers';
    return { role: role as Exclude<DevSignInRole, 'customer'> };
  }
  if (typeof email !== 'string') return 'email is required to sign in as a customer';
  const problem = validateEmail(email);
  return problem === null ? { role: 'customer', email } : problem;
}

export async function devSession(key: SigningKey, settings: AuthSettings, request: DevSignInRequest, now: number): Promise<DevSession> {
  const subject = request.role === 'customer' ? customerIdForEmail(request.email) : `dev-${request.role}`;
  const issuedAt = Math.floor(now / 1000);
  const token = await mintToken(key, {
    subject,
    roles: [request.role],
    issuer: settings.issuer,
    audience: settings.audience,
    rolesClaim: settings.rolesClaim,
    ttlSeconds: DEV_TOKEN_TTL_SECONDS,
    issuedAt,
  });
  return { token, subject, roles: [request.role], expiresAt: (issuedAt + DEV_TOKEN_TTL_SECONDS) * 1000 };
}
