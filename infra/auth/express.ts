// The express side of authentication: a middleware that answers 401 (with
// WWW-Authenticate, RFC 6750) or 429 (with Retry-After) itself and otherwise
// leaves the principal in res.locals for the routes' own role checks.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Authenticator } from './authenticator';
import type { Principal } from './principal';
import { unlimited, type RequestLimiter } from './rate-limit';

export const REALM = 'restaurant';

export interface AuthMiddlewareOptions {
  /** Per principal (its subject). */
  readonly perPrincipal?: RequestLimiter;
  /** Failed authentications per client address: a flood of bad tokens gets 429 before any verification. */
  readonly failedPerAddress?: RequestLimiter;
}

function fail(res: Response, status: number, code: string, message: string, headers: Record<string, string>): void {
  res.status(status).set(headers).json({ error: { code, message } });
}

/** The WWW-Authenticate value for a refusal; a missing token gets no error code (RFC 6750 §3.1). */
export function wwwAuthenticate(code: 'missing_token' | 'invalid_token' | 'insufficient_scope', description: string): string {
  if (code === 'missing_token') return `Bearer realm="${REALM}"`;
  return `Bearer realm="${REALM}", error="${code}", error_description="${description.replace(/["\\]/g, '')}"`;
}

export function authenticate(authenticator: Authenticator, options: AuthMiddlewareOptions = {}): RequestHandler {
  const perPrincipal = options.perPrincipal ?? unlimited;
  const failedPerAddress = options.failedPerAddress ?? unlimited;
  return (req: Request, res: Response, next: NextFunction) => {
    void (async () => {
      const address = req.socket.remoteAddress ?? 'unknown';
      const flooded = await failedPerAddress.exhausted(address);
      if (!flooded.ok) return tooMany(res, flooded.retryAfterSeconds, 'too many failed authentications from this address');
      const result = await authenticator.authenticate(req.get('authorization'));
      if (!result.ok) {
        if (result.code === 'unavailable') return fail(res, 503, 'unavailable', 'tokens cannot be verified right now; retry shortly', { 'Retry-After': '2' });
        await failedPerAddress.consume(address);
        return fail(res, 401, 'unauthorized', result.description, { 'WWW-Authenticate': wwwAuthenticate(result.code, result.description) });
      }
      const limited = await perPrincipal.consume(result.principal.subject);
      if (!limited.ok) return tooMany(res, limited.retryAfterSeconds, 'too many requests; slow down');
      res.locals.principal = result.principal;
      next();
    })().catch(next);
  };
}

function tooMany(res: Response, retryAfterSeconds: number, message: string): void {
  fail(res, 429, 'rate_limited', message, { 'Retry-After': String(retryAfterSeconds) });
}

/** The principal the middleware authenticated (throws if it did not run: a wiring bug). */
export function principalOf(res: Response): Principal {
  const principal = (res.locals as { principal?: Principal }).principal;
  if (principal === undefined) throw new Error('no authenticated principal: the authenticate middleware must run first');
  return principal;
}

/** 403 in the documented error shape. */
export function forbidden(res: Response, message: string): void {
  fail(res, 403, 'forbidden', message, {});
}
