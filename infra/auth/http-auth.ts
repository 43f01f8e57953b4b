// Builds a role's authentication from the settings: the authenticator and the
// express middleware with the configured rate limits. Switching authentication
// off (AUTH_DISABLED=true, the benchmark baseline) is logged as an error on
// every start so it is never missed.
import type { RequestHandler } from 'express';
import type { Logger } from '../logging';
import { createAuthenticator, type Authenticator } from './authenticator';
import { authenticate } from './express';
import { requestLimiter } from './rate-limit';
import type { AuthSettings } from './settings';

export interface HttpAuth {
  readonly authenticator: Authenticator;
  readonly middleware: RequestHandler;
}

export async function httpAuth(settings: AuthSettings, log: Logger): Promise<HttpAuth> {
  const authenticator = await createAuthenticator(settings);
  if (authenticator.disabled) {
    log.error('AUTHENTICATION IS DISABLED (AUTH_DISABLED=true): every request acts as admin. Never run this way outside a benchmark.');
  } else {
    log.info({ mode: settings.mode, issuer: settings.issuer, audience: settings.audience, rolesClaim: settings.rolesClaim.join('.') }, 'bearer tokens required');
  }
  const middleware = authenticate(authenticator, {
    perPrincipal: requestLimiter(settings.rateLimit.requests, settings.rateLimit.windowSeconds),
    failedPerAddress: requestLimiter(settings.rateLimit.failedAuthPerMinute, 60),
  });
  return { authenticator, middleware };
}
