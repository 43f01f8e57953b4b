// The HTTP gateway of the command side (docs/command-side.md): one task-based route per
// command. A request is checked (media type, headers, params, body), turned
// into a command envelope (routes.ts), handed to the CommandBus, and its
// outcome mapped to a status (responses.ts). A request refused here never
// reaches the bus.
//
// No listen() and no Kafka here: server.ts starts the app, and the caller
// passes the real bus.
import express, { type Application, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { principalOf } from '../../infra/auth/express';
import { actorOf, type Principal } from '../../infra/auth/principal';
import { isRetriable, type CommandBus, type CommandEnvelope, type MenuCatalog, type MenuItemQuote } from './command-bus';
import { describeError, stderrLogger, type GatewayLogger } from './logger';
import { authorizeRoute } from './authorization';
import { id, type FieldProblem } from './request-fields';
import { commandIds, commandMetadata, readCommandHeaders } from './request-metadata';
import { requestTrace, traceRequests } from '../../infra/tracing/http';
import type { TraceHeaders } from '../../infra/tracing/propagation';
import { JSON_TYPES, jsonBody, unreadableRequestReply, wholeRequest } from './request-body';
import { errorReply, internalError, invalidRequest, outcomeReply, unavailable, type HttpReply } from './responses';
import { addItemCommand, locationOf, ROUTES, signUpEnvelopes, type GatewayRoute } from './routes';
import { signUpCustomer } from './sign-up';
import { forgetCustomer } from './forget';
import { sealCommand, type GatewayPrivacy } from './personal-data';
import { seal } from '../../infra/privacy/crypto';
import { CustomerForgottenError } from '../../infra/privacy/key-store';
import { assertNever } from '../../kernel/assert-never';

export interface GatewayLimits {
  /** Largest accepted JSON body, in bytes (default 64 KiB). */
  readonly maxBodyBytes?: number;
}

export interface GatewayDeps {
  readonly bus: CommandBus;
  readonly menu: MenuCatalog;
  /** Epoch milliseconds; stamped on every command as issuedAt. */
  readonly clock: () => number;
  /** A fresh unique id (commands and new aggregates without an Idempotency-Key). */
  readonly newId: () => string;
  readonly limits?: GatewayLimits;
  /** How long to wait for a command's reply before answering 202. */
  readonly replyWaitMs: number;
  /**
   * Every command request is answered within this many ms of its arrival
   * (default replyWaitMs + 1000): a reply wait is cut to what is left of it,
   * and a request still not decided when it runs out (Kafka or the registry
   * not answering) gets 503 with Retry-After (docs/recovery.md).
   */
  readonly requestTimeoutMs?: number;
  /**
   * False while Kafka is known not to answer (the process's probe): a command
   * is then refused with 503 at once instead of waiting out its deadline.
   */
  readonly kafkaAnswers?: () => boolean;
  readonly logger?: GatewayLogger;
  /**
   * Authenticates every request (infra/auth/express.ts `authenticate`): answers
   * 401/429 itself, else leaves the principal for the routes' role checks.
   */
  readonly authenticate: RequestHandler;
  /**
   * Seals personal data before commands are written and keys e-mail
   * reservations by a keyed hash (docs/privacy.md). Without it (encryption
   * off) commands carry plaintext, as before encryption existed.
   */
  readonly privacy?: GatewayPrivacy;
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

function send(res: Response, reply: HttpReply, correlationId?: string): void {
  res.status(reply.status);
  for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
  if (correlationId !== undefined) res.setHeader('X-Correlation-Id', correlationId);
  res.json(reply.body);
}

/** Whether the request carries body bytes (a Content-Length of 0 does not count). */
function hasContent(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** 415 unless the body is JSON; a route without a body also accepts no body at all. */
function mediaTypeProblem(req: Request, route: GatewayRoute): HttpReply | undefined {
  if (typeof req.is(JSON_TYPES) === 'string') return undefined;
  if (route.body === 'none' && !hasContent(req)) return undefined;
  return errorReply(415, 'unsupported_media_type', 'send the request body as JSON with Content-Type: application/json');
}

export function createGatewayApp(deps: GatewayDeps): Application {
  const logger = deps.logger ?? stderrLogger;
  const requestTimeoutMs = deps.requestTimeoutMs ?? deps.replyWaitMs + 1000;
  // The reply wait ends this much before the request's deadline, so a command that was written is answered 202, not 503.
  const replyMarginMs = Math.min(500, Math.floor(requestTimeoutMs / 4));
  const app = express();
  app.disable('x-powered-by');
  // ETags are versions of aggregates, set by us; not hashes of response bodies.
  app.set('etag', false);

  const json = jsonBody(deps.limits?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);

  /** Runs one command route; returns the reply and the ids to echo. `deadline`: epoch ms by which it answers. */
  async function handle(route: GatewayRoute, req: Request, principal: Principal, deadline: number, trace: TraceHeaders | undefined): Promise<{ reply: HttpReply; correlationId?: string }> {
    const waitMs = (): number => Math.max(0, Math.min(deps.replyWaitMs, deadline - replyMarginMs - Date.now()));
    const media = mediaTypeProblem(req, route);
    if (media !== undefined) return { reply: media };
    const decision = authorizeRoute(principal, route, req.params as Record<string, string | undefined>, req.body as unknown);
    if (!decision.ok) return { reply: decision.reply };

    const problems: FieldProblem[] = [];
    const headers = readCommandHeaders(req.headers, problems);
    const input = { params: req.params as Record<string, string | undefined>, body: decision.body };
    // Parse before looking at problems so one 400 lists header, path and body problems together.
    const parsed = route.parse(input, problems);
    if (problems.length > 0 || parsed === undefined) return { reply: invalidRequest(problems) };

    const ids = commandIds({
      routePath: route.path,
      params: req.params as Record<string, string>,
      idempotencyKey: headers.idempotencyKey,
      subject: principal.subject,
      creates: route.creates,
      newId: deps.newId,
    });
    const actor = actorOf(principal);
    const traced = trace === undefined ? {} : { trace };
    const correlationId = headers.correlationId ?? ids.commandId;
    const metadataFor = (aggregateId: string) =>
      commandMetadata({ commandId: ids.commandId, aggregateId, correlationId, issuedAt: deps.clock(), expectedVersion: headers.expectedVersion, actor });
    const location = route.creates ? (aggregateId: string) => locationOf(route.aggregate, aggregateId) : undefined;

    const run = async (): Promise<{ reply: HttpReply; correlationId?: string }> => {
      if (deps.kafkaAnswers?.() === false) {
        logger.warn({ route: route.path, commandType: route.commandType, commandId: ids.commandId, correlationId }, 'command not accepted: Kafka does not answer');
        return { reply: unavailable(ids.commandId), correlationId };
      }
      switch (parsed.kind) {
        case 'command': {
          const aggregateId = parsed.aggregateId ?? ids.newAggregateId;
          if (aggregateId === undefined) throw new Error(`route ${route.path} has no aggregate id`);
          const sealed = deps.privacy === undefined ? { ok: true as const, command: parsed.command } : await sealCommand(deps.privacy, parsed.command, aggregateId, actor);
          if (!sealed.ok) return { reply: sealed.reply, correlationId };
          const envelope: CommandEnvelope = { aggregate: route.aggregate, command: sealed.command, metadata: metadataFor(aggregateId), ...traced };
          if (sealed.command.type === 'ForgetCustomer' && deps.privacy !== undefined) {
            return { reply: outcomeReply(await forgetCustomer(deps.bus, deps.privacy, envelope, waitMs(), logger), location), correlationId };
          }
          return { reply: outcomeReply(await deps.bus.send(envelope, { waitMs: waitMs() }), location), correlationId };
        }
        case 'add-item': {
          const quote: MenuItemQuote | undefined = await deps.menu.quote(parsed.menuItemId);
          if (quote === undefined) {
            return { reply: errorReply(404, 'menu_item_not_found', `no menu item "${parsed.menuItemId}" on the menu`), correlationId };
          }
          if (!quote.available) {
            return { reply: errorReply(409, 'menu_item_sold_out', `"${quote.name}" is sold out`), correlationId };
          }
          const envelope: CommandEnvelope = { aggregate: route.aggregate, command: addItemCommand(parsed, quote), metadata: metadataFor(parsed.aggregateId), ...traced };
          return { reply: outcomeReply(await deps.bus.send(envelope, { waitMs: waitMs() })), correlationId };
        }
        case 'sign-up': {
          // A customer's id is their token's subject; others (admin) get a minted one.
          const customerId = decision.ownId ?? ids.newAggregateId;
          if (customerId === undefined) throw new Error('sign-up has no customer id');
          let sealedSignUp;
          if (deps.privacy !== undefined) {
            const reservationId = deps.privacy.reservationId(parsed.email);
            const key = await deps.privacy.sealingKey(customerId, { emailReservation: reservationId });
            sealedSignUp = { reservationId, name: seal(key, 'name', parsed.name.trim()), email: seal(key, 'email', parsed.email.trim()) };
          }
          const envelopes = signUpEnvelopes(parsed, metadataFor(customerId), sealedSignUp, trace);
          const result = await signUpCustomer(deps.bus, envelopes, waitMs, logger);
          return { reply: outcomeReply(result.outcome, result.answeredBy === 'sign-up' ? location : undefined), correlationId };
        }
        default:
          return assertNever(parsed, 'request draft');
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<{ reply: HttpReply; correlationId?: string }>((resolve) => {
      timer = setTimeout(() => {
        logger.warn({ route: route.path, commandType: route.commandType, commandId: ids.commandId, correlationId, timeoutMs: requestTimeoutMs }, 'command not answered in time: Kafka or the registry is not answering');
        resolve({ reply: unavailable(ids.commandId), correlationId });
      }, Math.max(0, deadline - Date.now()));
    });
    try {
      return await Promise.race([run(), expired]);
    } catch (error) {
      if (error instanceof CustomerForgottenError) {
        return { reply: errorReply(409, 'customer_forgotten', 'this customer was forgotten: no personal data is taken for them'), correlationId };
      }
      const details = { route: route.path, commandType: route.commandType, commandId: ids.commandId, correlationId, error: describeError(error) };
      if (isRetriable(error)) {
        logger.warn(details, 'command not accepted: infrastructure unavailable');
        return { reply: unavailable(ids.commandId), correlationId };
      }
      logger.error(details, 'command failed unexpectedly');
      return { reply: internalError(ids.commandId), correlationId };
    } finally {
      clearTimeout(timer);
    }
  }

  app.use(traceRequests('gateway'));
  // The request's clock starts before authentication and the body are read.
  app.use((_req, res, next) => {
    res.locals.deadline = Date.now() + requestTimeoutMs;
    next();
  });
  app.use(deps.authenticate);

  for (const route of ROUTES) {
    // Roles first, before the body is read: a caller who may never use the route learns nothing more than 403.
    const roles: RequestHandler = (req, res, next) => {
      const decision = authorizeRoute(principalOf(res), route, req.params as Record<string, string | undefined>, undefined);
      if (decision.ok) next();
      else send(res, decision.reply);
    };
    app.post(route.path, roles, json, wholeRequest, async (req, res) => {
      const deadline = typeof res.locals.deadline === 'number' ? res.locals.deadline : Date.now() + requestTimeoutMs;
      const { reply, correlationId } = await handle(route, req, principalOf(res), deadline, requestTrace(res));
      send(res, reply, correlationId);
    });
  }

  // Any authenticated principal: command ids are unguessable (fresh, or derived from the caller's own subject and key).
  app.get('/commands/:commandId', async (req, res) => {
    const problems: FieldProblem[] = [];
    const commandId = id('commandId')(req.params.commandId, 'path.commandId', problems);
    if (commandId === undefined) return send(res, invalidRequest(problems));
    const outcome = await deps.bus.outcome(commandId);
    if (outcome === undefined) return send(res, errorReply(404, 'command_not_found', 'no outcome known for this command (unknown, not yet decided, or expired)', { commandId }));
    return send(res, { status: 200, headers: {}, body: outcome });
  });

  // A known path with another method: 405 with the methods it does take.
  const allowed = new Map<string, string[]>([['/commands/:commandId', ['GET', 'HEAD']]]);
  for (const route of ROUTES) allowed.set(route.path, [...(allowed.get(route.path) ?? []), route.method]);
  for (const [path, methods] of allowed) {
    app.all(path, (_req, res) => send(res, errorReply(405, 'method_not_allowed', `use ${methods.join(' or ')} on this path`, { headers: { Allow: methods.join(', ') } })));
  }

  app.use((req, res) => send(res, errorReply(404, 'route_not_found', `no route for ${req.method} ${req.path}`)));

  // Express requires four parameters to recognize an error handler.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const unreadable = unreadableRequestReply(error);
    if (unreadable !== undefined) return send(res, unreadable);
    if (isRetriable(error)) {
      logger.warn({ method: req.method, path: req.path, error: describeError(error) }, 'request failed: infrastructure unavailable');
      return send(res, unavailable());
    }
    logger.error({ method: req.method, path: req.path, error: describeError(error) }, 'request failed unexpectedly');
    return send(res, internalError());
  });

  return app;
}
