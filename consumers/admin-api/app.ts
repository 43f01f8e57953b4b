// The admin API: the dead-letter tools of `npm run dlq` over HTTP, for an
// operator console or a script without shell access
// (docs/read-side.md#redrive-and-skip). Admin tokens only: 401 without a
// token, 403 for every other role.
//
//   GET  /dead-letters?model=&reason=&aggregate=      parked aggregates by read model, reason, aggregate
//   GET  /dead-letters/:model/:aggregateId            one decoded, with its headers (traceparent included)
//   POST /dead-letters/:model/redrive                 {"aggregateId"|"reason"|"all": true, "why"}
//   POST /dead-letters/:model/:aggregateId/skip       {"why", "event"?: "<topic>:<partition>:<offset>"}
//
// `:model` is a read model, or a process manager by name or consumer group
// (its parked processes; `aggregateId` is the process id): their redrive and
// skip are decided by the process manager's runtime, which records them, and
// answered when it has (202 with the request id when it has not within the
// wait: the request stays queued) (docs/operations.md "Parked processes").
// `:model` may also be `<aggregate>-commands`: the command processor's parked
// aggregates of that type, decided by the processor the same way
// (docs/operations.md "Parked aggregates of the command processor").
//
// Everything goes through the functions the CLI uses (projections/redrive:
// queries.ts, actions.ts; process-managers/redrive/redrive.ts): one implementation. Redrive and skip are recorded
// on restaurant.dead-letter-actions with the token's subject as the actor.
// It writes the read models and produces to Kafka, which the query API's
// principals may not: it runs as its own role, `admin`, with its own Kafka and
// Redis users (docs/least-privilege.md).
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type Redis from 'ioredis';
import type { Kafka, Producer } from 'kafkajs';
import { forbidden, principalOf } from '../../infra/auth/express';
import type { AvroCodec } from '../../infra/kafka/codec';
import type { Logger } from '../../infra/logging';
import { ActionInputError, redrive, skip, type RedriveSelection } from '../projections/redrive/actions';
import { DLQ_MODELS, dlqModelOf, EVENT_POSITION, type DlqModel } from '../projections/redrive/cli-args';
import { listDeadLetters, parkedStore, showDeadLetter, type StoreChoice } from '../projections/redrive/queries';
import { isReadModel, type ReadModelSpec } from '../projections/runtime/read-models';
import type { ReadModelName } from '../projections/shared/keys';
import { RequestPendingError } from '../../infra/stateful/parked-tools';
import { commandParkings, PROCESS_MANAGERS } from '../../schemas/topics';
import { listProcesses, parkingTargetOf, redriveProcesses, showProcess, skipProcessInput, type ParkedRuntimeName, type Targets } from '../process-managers/redrive/redrive';

export interface AdminApiDeps {
  readonly redis: Redis;
  /** The deployment's base keyspace: each model's parked aggregates are looked up in the keyspace serving it. */
  readonly keyspace: string;
  readonly codec: AvroCodec;
  /** Records the actions (connected, idempotent). */
  readonly producer: Producer;
  /** Reads the process managers' parked topics and the actions they record. */
  readonly kafka: Kafka;
  readonly logger: Logger;
  /** Authenticates every request (infra/auth/express.ts): answers 401/429 itself, else leaves the principal. */
  readonly authenticate: RequestHandler;
  /** The read models' specs (default the real ones; tests give a projection with a bug they switch off). */
  readonly specs?: Readonly<Partial<Record<ReadModelName, ReadModelSpec>>>;
  /** A keyspace to use instead of the serving one (tests). */
  readonly keyspaceOverride?: string;
  readonly clock?: () => number;
  /** Where each process manager's parking is (default the catalog's topics; tests give topics of their own). */
  readonly processManagers?: Targets;
  /** How long a process-manager redrive or skip waits for its runtime's answer (default 30 s). */
  readonly requestTimeoutMs?: number;
}

const error = (res: Response, status: number, code: string, message: string, headers: Record<string, string> = {}): void => {
  res.status(status).set(headers).json({ error: { code, message } });
};

/** The only role the admin API is open to. */
export const ADMIN_API_ROLE = 'admin';

const LIST_PARAMS = ['model', 'reason', 'aggregate'] as const;

type Body = Record<string, unknown>;

function text(body: Body, name: string): string | undefined | Error {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') return new Error(`${name} must be a non-empty string`);
  return value;
}

/** The why of a redrive or skip: required, at most 2,000 characters. */
function whyOf(body: Body): string | Error {
  const why = text(body, 'why');
  if (why === undefined) return new Error('why is required: say why you redrive or skip (it is recorded with your name)');
  if (why instanceof Error) return why;
  if (why.length > 2000) return new Error('why must be at most 2000 characters');
  return why;
}

/** Exactly one of aggregateId, reason, all: true. */
export function redriveSelection(body: Body): RedriveSelection | Error {
  const aggregateId = text(body, 'aggregateId');
  const reason = text(body, 'reason');
  if (aggregateId instanceof Error) return aggregateId;
  if (reason instanceof Error) return reason;
  if (body.all !== undefined && body.all !== true) return new Error('all must be true when given');
  const chosen = [aggregateId !== undefined, reason !== undefined, body.all === true].filter(Boolean).length;
  if (chosen !== 1) return new Error('give exactly one of aggregateId, reason, all: true');
  return aggregateId !== undefined ? { aggregateId } : reason !== undefined ? { reason } : { all: true };
}

export function createAdminApp(deps: AdminApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const choice: StoreChoice = { redis: deps.redis, base: deps.keyspace, keyspace: deps.keyspaceOverride, specs: deps.specs };
  const targetOf = deps.processManagers ?? ((pm: ParkedRuntimeName) => parkingTargetOf(pm));
  const tools = { kafka: deps.kafka, codec: deps.codec };
  const pmContext = (res: Response, why: string) => ({ ...tools, producer: deps.producer, actor: principalOf(res).subject, why, timeoutMs: deps.requestTimeoutMs ?? 30_000 });

  const route = (handler: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => {
    handler(req, res).catch(next);
  };

  app.use(deps.authenticate);
  app.use((_req: Request, res: Response, next: NextFunction) => {
    const principal = principalOf(res);
    if (principal.roles.includes(ADMIN_API_ROLE)) return next();
    forbidden(res, `the admin API is open to admin only, not to ${principal.roles.join(', ') || 'a token without roles'}`);
  });
  app.use(express.json({ limit: '16kb' }));

  /** The path's read model or process manager, or a 404 answered. */
  const modelOf = (req: Request, res: Response): DlqModel | undefined => {
    const model = dlqModelOf(req.params.model as string);
    if (model !== undefined) return model;
    error(res, 404, 'unknown_read_model', `no read model "${req.params.model as string}" and no process manager of that name or group; they are ${DLQ_MODELS.join(', ')}`);
    return undefined;
  };

  const bodyOf = (req: Request, res: Response): Body | undefined => {
    const body: unknown = req.body;
    if (typeof body === 'object' && body !== null && !Array.isArray(body) && req.is('application/json')) return body as Body;
    error(res, 400, 'invalid_request', 'send a JSON object with Content-Type: application/json');
    return undefined;
  };

  /** What every action starts from: the path's model, the JSON body and its `why`; or the 4xx answered. */
  const actionOf = (req: Request, res: Response): { readonly model: DlqModel; readonly body: Body; readonly why: string } | undefined => {
    const model = modelOf(req, res);
    if (model === undefined) return undefined;
    const body = bodyOf(req, res);
    if (body === undefined) return undefined;
    const why = whyOf(body);
    if (why instanceof Error) return void error(res, 400, 'invalid_request', why.message);
    return { model, body, why };
  };

  const actionContext = async (model: ReadModelName, res: Response, why: string) => ({
    store: await parkedStore(choice, model),
    codec: deps.codec,
    producer: deps.producer,
    // Who acted: the token's subject, never anything the client says.
    actor: principalOf(res).subject,
    why,
    ...(deps.clock === undefined ? {} : { clock: deps.clock }),
  });

  app.get(
    '/dead-letters',
    route(async (req, res) => {
      const repeated = LIST_PARAMS.find((name) => typeof req.query[name] !== 'string' && req.query[name] !== undefined);
      if (repeated !== undefined) return error(res, 400, 'invalid_request', `${repeated} must be given at most once`);
      const { model, reason, aggregate } = req.query as Record<string, string | undefined>;
      const chosen = model === undefined ? undefined : dlqModelOf(model);
      if (model !== undefined && chosen === undefined) return error(res, 400, 'invalid_request', `no read model "${model}" and no process manager of that name or group; they are ${DLQ_MODELS.join(', ')}`);
      const models = chosen === undefined ? DLQ_MODELS : [chosen];
      const deadLetters: unknown[] = await listDeadLetters(choice, { models: models.filter(isReadModel), reason, aggregateId: aggregate });
      for (const pm of [...PROCESS_MANAGERS, ...commandParkings()].filter((m) => models.includes(m))) deadLetters.push(...(await listProcesses(tools, targetOf(pm), { reason, processId: aggregate })));
      res.json({ deadLetters });
    }),
  );

  app.get(
    '/dead-letters/:model/:aggregateId',
    route(async (req, res) => {
      const model = modelOf(req, res);
      if (model === undefined) return;
      const aggregateId = req.params.aggregateId as string;
      const shown = isReadModel(model) ? await showDeadLetter(choice, deps.codec, model, aggregateId) : await showProcess(tools, targetOf(model), aggregateId);
      if (shown === undefined) return error(res, 404, 'not_parked', `${aggregateId} is not parked in ${model}`);
      res.json(shown);
    }),
  );

  app.post(
    '/dead-letters/:model/redrive',
    route(async (req, res) => {
      const action = actionOf(req, res);
      if (action === undefined) return;
      const { model, body, why } = action;
      const selection = redriveSelection(body);
      if (selection instanceof Error) return error(res, 400, 'invalid_request', selection.message);
      if (!isReadModel(model)) {
        const outcomes = await redriveProcesses(pmContext(res, why), targetOf(model), selection);
        return void res.json({ processManager: model, applied: outcomes.reduce((n, o) => n + o.applied, 0), outcomes });
      }
      const outcomes = await redrive(await actionContext(model, res, why), selection);
      res.json({ readModel: model, applied: outcomes.reduce((n, o) => n + o.applied, 0), outcomes });
    }),
  );

  app.post(
    '/dead-letters/:model/:aggregateId/skip',
    route(async (req, res) => {
      const action = actionOf(req, res);
      if (action === undefined) return;
      const { model, body, why } = action;
      const event = text(body, 'event');
      if (event instanceof Error) return error(res, 400, 'invalid_request', event.message);
      if (event !== undefined && !EVENT_POSITION.test(event)) return error(res, 400, 'invalid_request', `event "${event}" is not <topic>:<partition>:<offset>`);
      const aggregateId = req.params.aggregateId as string;
      if (!isReadModel(model)) {
        const shown = await showProcess(tools, targetOf(model), aggregateId);
        if (shown === undefined || (event !== undefined && !shown.chain.some((e) => e.position === event))) {
          return error(res, 404, 'not_parked', event === undefined ? `${aggregateId} is not parked in ${model}` : `${aggregateId} has no parked input ${event} in ${model}`);
        }
        const outcome = await skipProcessInput(pmContext(res, why), targetOf(model), aggregateId, event);
        return void res.status(outcome.outcome === 'skipped' ? 200 : 404).json({ processManager: model, ...outcome });
      }
      const ctx = await actionContext(model, res, why);
      // Nothing to skip answers 404 and records nothing.
      const shown = await showDeadLetter(choice, deps.codec, model, aggregateId);
      if (shown === undefined || (event !== undefined && !shown.chain.some((e) => `${e.topic}:${e.partition}:${e.offset}` === event))) {
        return error(res, 404, 'not_parked', event === undefined ? `${aggregateId} is not parked in ${model}` : `${aggregateId} has no parked event ${event} in ${model}`);
      }
      const outcome = await skip(ctx, aggregateId, event);
      res.status(outcome.outcome === 'skipped' ? 200 : 404).json({ readModel: model, ...outcome });
    }),
  );

  app.use((_req: Request, res: Response) => error(res, 404, 'not_found', 'no such route'));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    if (err instanceof URIError) return error(res, 400, 'invalid_request', 'the path is not valid percent-encoded UTF-8');
    if (err instanceof ActionInputError) return error(res, 400, 'invalid_request', err.message);
    // Queued, not decided yet: the process manager's runtime decides it when it runs (and records it).
    if (err instanceof RequestPendingError) return void res.status(202).json({ pending: { requestId: err.requestId, message: err.message } });
    // express.json: a body that is not JSON, too large, or in a charset it cannot read.
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) return error(res, status, 'invalid_request', (err as Error).message);
    deps.logger.error({ err, path: req.path }, 'admin request failed');
    error(res, 503, 'unavailable', 'Redis, Kafka or the schema registry could not be reached; retry shortly', { 'Retry-After': '1' });
  });
  return app;
}
