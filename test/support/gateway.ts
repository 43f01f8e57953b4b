// Test doubles for the gateway's HTTP seam only: a CommandBus that records every
// envelope and answers with scripted outcomes, a MenuCatalog backed by a map,
// and a helper that starts the app on an ephemeral port and speaks to it with
// node's fetch. The Kafka bus itself is tested against the real broker elsewhere.
// Authentication is real: tokens signed with an in-memory key pair, verified
// with jose; every request carries an admin token unless it sends its own
// Authorization.
import type { RequestHandler } from 'express';
import { authenticate } from '../../infra/auth/express';
import { mintToken } from '../../infra/auth/local-issuer';
import type { SigningKey } from '../../infra/auth/local-keys';
import { claimsFor, hasAuthorization, memorySigningKey, testVerifier, type Who } from './auth';
import { createGatewayApp, type GatewayDeps } from '../../producers/gateway/app';
import {
  CommandBusUnavailable,
  type CommandBus,
  type CommandEnvelope,
  type CommandOutcome,
  type MenuCatalog,
  type MenuItemQuote,
} from '../../producers/gateway/command-bus';
import type { GatewayLogger } from '../../producers/gateway/logger';
import { startGatewayServer, type RunningServer } from '../../producers/gateway/server';

export const FIXED_NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
/** The actor of every request that sends no Authorization of its own. */
export const ADMIN_ACTOR = { subject: 'test-admin', roles: ['admin'] };
export const REPLY_WAIT_MS = 250;

type Responder = (envelope: CommandEnvelope) => CommandOutcome | Promise<CommandOutcome>;

export function accepted(envelope: CommandEnvelope, aggregateVersion = 1): CommandOutcome {
  return {
    status: 'accepted',
    commandId: envelope.metadata.commandId,
    commandType: envelope.command.type,
    aggregateId: envelope.metadata.aggregateId,
    aggregateVersion,
    events: [
      {
        eventType: `${envelope.command.type}Done`,
        aggregateId: envelope.metadata.aggregateId,
        version: aggregateVersion,
        topic: `restaurant.${envelope.aggregate}.events`,
        partition: 0,
        offset: 42,
      },
    ],
  };
}

export function rejected(envelope: CommandEnvelope, code: string, aggregateVersion = 3): CommandOutcome {
  return {
    status: 'rejected',
    commandId: envelope.metadata.commandId,
    commandType: envelope.command.type,
    aggregateId: envelope.metadata.aggregateId,
    aggregateVersion,
    code,
    message: `rejected: ${code}`,
  };
}

export function pending(envelope: CommandEnvelope): CommandOutcome {
  return { status: 'pending', commandId: envelope.metadata.commandId, commandType: envelope.command.type, aggregateId: envelope.metadata.aggregateId };
}

/** Records every send; answers accepted unless told otherwise per command type. */
export class RecordingCommandBus implements CommandBus {
  readonly sent: CommandEnvelope[] = [];
  readonly waits: number[] = [];
  readonly outcomes = new Map<string, CommandOutcome>();
  private readonly responders = new Map<string, Responder>();
  private fallback: Responder = (envelope) => accepted(envelope);

  /** Answer commands of this type (or all, with '*') with `responder`. */
  on(commandType: string, responder: Responder): this {
    if (commandType === '*') this.fallback = responder;
    else this.responders.set(commandType, responder);
    return this;
  }

  async send(envelope: CommandEnvelope, options: { readonly waitMs: number }): Promise<CommandOutcome> {
    this.sent.push(envelope);
    this.waits.push(options.waitMs);
    const outcome = await (this.responders.get(envelope.command.type) ?? this.fallback)(envelope);
    if (outcome.status !== 'pending') this.outcomes.set(outcome.commandId, outcome);
    return outcome;
  }

  async outcome(commandId: string): Promise<CommandOutcome | undefined> {
    return this.outcomes.get(commandId);
  }
}

export const unavailableResponder: Responder = () => {
  throw new CommandBusUnavailable('broker unreachable: connect ECONNREFUSED 10.0.0.7:9092');
};

export class FakeMenuCatalog implements MenuCatalog {
  readonly asked: string[] = [];
  private readonly items = new Map<string, MenuItemQuote>();

  add(item: MenuItemQuote): this {
    this.items.set(item.menuItemId, item);
    return this;
  }

  async quote(menuItemId: string): Promise<MenuItemQuote | undefined> {
    this.asked.push(menuItemId);
    return this.items.get(menuItemId);
  }
}

export class RecordingLogger implements GatewayLogger {
  readonly entries: { level: string; details: Record<string, unknown>; message: string }[] = [];
  info(details: Record<string, unknown>, message: string): void {
    this.entries.push({ level: 'info', details, message });
  }
  warn(details: Record<string, unknown>, message: string): void {
    this.entries.push({ level: 'warn', details, message });
  }
  error(details: Record<string, unknown>, message: string): void {
    this.entries.push({ level: 'error', details, message });
  }
}

/** Deterministic ids: id-1, id-2, ... */
export function sequentialIds(prefix = 'id'): () => string {
  let n = 0;
  return () => `${prefix}-${(n += 1)}`;
}

export interface TestResponse {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON body (undefined when empty). */
  readonly body: unknown;
  readonly text: string;
}

export interface RequestOptions {
  /** Sent as JSON with Content-Type: application/json. */
  readonly json?: unknown;
  /** Sent verbatim; set the Content-Type in headers yourself (none by default). */
  readonly raw?: string | Uint8Array;
  readonly headers?: Record<string, string>;
}

export interface GatewayHarness {
  readonly bus: RecordingCommandBus;
  readonly menu: FakeMenuCatalog;
  readonly logger: RecordingLogger;
  readonly server: RunningServer;
  readonly key: SigningKey;
  /** `Authorization: Bearer <token>` for `who` (roles), with `subject` (default test-<roles>). */
  as(who: Who, subject?: string): Promise<Record<string, string>>;
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  post(path: string, json?: unknown, headers?: Record<string, string>): Promise<TestResponse>;
  close(): Promise<void>;
}

export const PIZZA: MenuItemQuote = { menuItemId: 'pizza-margherita', name: 'Pizza Margherita', price: { amountMinor: 1250, currency: 'EUR' }, available: true };
export const TIRAMISU: MenuItemQuote = { menuItemId: 'tiramisu', name: 'Tiramisu', price: { amountMinor: 650, currency: 'EUR' }, available: false };

/** Starts the gateway on 127.0.0.1:<ephemeral> with fresh doubles (a fixed clock, sequential ids). */
export async function startGateway(overrides: Partial<Omit<GatewayDeps, 'bus' | 'menu' | 'logger'>> = {}): Promise<GatewayHarness> {
  const bus = new RecordingCommandBus();
  const menu = new FakeMenuCatalog().add(PIZZA).add(TIRAMISU);
  const logger = new RecordingLogger();
  const key = await memorySigningKey();
  const authenticateRequests: RequestHandler = overrides.authenticate ?? authenticate(testVerifier(key));
  const app = createGatewayApp({ bus, menu, logger, clock: () => FIXED_NOW, newId: sequentialIds(), replyWaitMs: REPLY_WAIT_MS, ...overrides, authenticate: authenticateRequests });
  const server = await startGatewayServer(app, { port: 0 });
  const as = async (who: Who, subject?: string): Promise<Record<string, string>> => ({ authorization: `Bearer ${await mintToken(key, claimsFor(who, subject))}` });
  const admin = await as('admin', 'test-admin');

  async function request(method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> {
    const given = options.headers ?? {};
    const headers: Record<string, string> = {
      ...(options.json === undefined ? {} : { 'content-type': 'application/json' }),
      ...(hasAuthorization(given) ? {} : admin),
      ...given,
    };
    const body = options.json === undefined ? options.raw : JSON.stringify(options.json);
    const response = await fetch(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  }

  return {
    bus,
    menu,
    logger,
    server,
    key,
    as,
    request,
    post: (path, json, headers) => request('POST', path, { ...(json === undefined ? {} : { json }), ...(headers === undefined ? {} : { headers }) }),
    close: () => server.close(),
  };
}
