// The web role's HTTP app: the built front end (web/dist), a same-origin proxy
// to the gateway and the query API, and, in local-key mode only, the
// development sign-in (dev-sign-in.ts). docs/web-ui.md.
//
//   GET  /                     the single-page app (index.html, hashed assets)
//   GET  /auth/config          how this deployment signs people in: local | oidc | disabled
//   POST /auth/dev-sign-in     { role, email? } -> { token, subject, roles, expiresAt } (local mode only)
//   GET  /auth/login, /auth/callback, /auth/logout; POST /auth/session
//                              the OIDC login flow, where configured (oidc-login.ts)
//   *    /api/gateway/...      forwarded to the HTTP gateway
//   *    /api/query/...        forwarded to the query API
import fs from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { SigningKey } from '../../infra/auth/local-keys';
import type { AuthSettings } from '../../infra/auth/settings';
import type { Logger } from '../../infra/logging';
import { devSession, parseDevSignIn } from './dev-sign-in';
import { mountOidcLogin, type OidcLoginDeps } from './oidc-login';
import { forward, upstreamPath, type ProxyTarget } from './proxy';

export interface WebAppDeps {
  /** The built front end (index.html and assets/). */
  readonly staticDir: string;
  readonly gatewayOrigin: string;
  readonly queryOrigin: string;
  readonly auth: AuthSettings;
  /** The local signing key, present only in local-key mode. */
  readonly signingKey: SigningKey | undefined;
  /** The OIDC login flow, where configured (WEB_OIDC_CLIENT_ID). */
  readonly oidc: (Omit<OidcLoginDeps, 'clock' | 'logger'> & { readonly providerName: string }) | undefined;
  readonly clock: () => number;
  readonly logger: Logger;
}

/** What a browser may load and talk to: this origin only. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const error = (res: Response, status: number, code: string, message: string): void => {
  res.status(status).json({ error: { code, message } });
};

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Restaurant</title></head>
<body><main><h1>The web UI has not been built</h1><p>Run <code>npm run build:web</code> (or <code>npm start</code>, which builds it) and reload.</p></main></body></html>`;

export function createWebApp(deps: WebAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const targets: readonly ProxyTarget[] = [
    { prefix: '/api/gateway', origin: deps.gatewayOrigin },
    { prefix: '/api/query', origin: deps.queryOrigin },
  ];

  app.use((_req, res, next) => {
    res.set({
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
    });
    next();
  });

  // The proxy comes before any body parser: bodies go upstream untouched.
  app.use('/api', (req: Request, res: Response) => {
    const url = req.originalUrl;
    for (const target of targets) {
      const upstream = upstreamPath(url, target.prefix);
      if (upstream !== undefined) return forward(req, res, target, upstream);
    }
    error(res, 404, 'not_found', 'the API paths are /api/gateway/... and /api/query/...');
  });

  app.get('/auth/config', (_req, res) => {
    if (deps.auth.mode === 'local') return void res.json({ mode: 'local', devSignIn: true });
    if (deps.auth.mode === 'disabled') return void res.json({ mode: 'disabled', devSignIn: false });
    res.json({ mode: 'oidc', devSignIn: false, ...(deps.oidc === undefined ? {} : { oidc: { issuer: deps.auth.issuer, providerName: deps.oidc.providerName, loginUrl: '/auth/login' } }) });
  });

  if (deps.oidc !== undefined) mountOidcLogin(app, { ...deps.oidc, clock: deps.clock, logger: deps.logger });

  app.post('/auth/dev-sign-in', express.json({ limit: '4kb', strict: true, type: () => true }), (req, res, next) => {
    if (deps.auth.mode !== 'local' || deps.signingKey === undefined) {
      return error(res, 404, 'not_found', 'development sign-in exists only when authentication uses the local signing key');
    }
    if (!req.is('application/json')) return error(res, 415, 'unsupported_media_type', 'send the body as application/json');
    const parsed = parseDevSignIn(req.body);
    if (typeof parsed === 'string') return error(res, 400, 'invalid_request', parsed);
    devSession(deps.signingKey, deps.auth, parsed, deps.clock()).then(
      (session) => res.set('Cache-Control', 'no-store').json(session),
      (err: unknown) => next(new Error('minting a development token failed', { cause: err })),
    );
  });

  const index = path.join(deps.staticDir, 'index.html');
  app.use(
    express.static(deps.staticDir, {
      index: 'index.html',
      // Hashed file names change with their content: cache them for good; index.html is always asked again.
      setHeaders: (res, file) => res.set('Cache-Control', file.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable'),
    }),
  );
  app.get('/', (_req, res) => {
    if (!fs.existsSync(index)) res.status(503).type('html').send(NOT_BUILT);
    else error(res, 404, 'not_found', 'no such page');
  });

  app.use((_req: Request, res: Response) => error(res, 404, 'not_found', 'no such page'));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: unknown; type?: unknown }).status;
    // body-parser's own refusals (bad JSON, too large) are the client's: answer them as such.
    if (typeof status === 'number' && status >= 400 && status < 500) return error(res, status, 'invalid_request', err instanceof Error ? err.message : 'the request could not be read');
    deps.logger.error({ err, path: req.path }, 'web request failed');
    if (!res.headersSent) error(res, 500, 'internal', 'the request failed; see the web role log');
  });
  return app;
}
