import { randomUUID } from 'node:crypto';
import { assertKeyspace, DEFAULT_KEYSPACE, READ_MODELS, type ReadModelName } from '../consumers/projections/shared/keys';
import { DEFAULT_FULFILMENT_CONFIG, type FulfilmentConfig } from '../consumers/process-managers/order-fulfilment/order-fulfilment.workflow';
import { DEFAULT_SIMULATOR_CONFIG, validateSimulatorConfig, type DelayRange, type SimulatorConfig } from '../consumers/payment-simulator/payment-simulator';
import type { ProcessManagerName } from '../schemas/topics';
import { webOidc, type WebRoleConfig } from '../web/server/settings';

export const ROLES = [
  'all',
  'commands',
  'gateway',
  'command-processor',
  'projectors',
  'query',
  ...READ_MODELS.map((m) => `projector:${m}` as const),
  'process-managers',
  'process-manager:order-fulfilment',
  'loyalty',
  'payment-simulator',
  'web',
  'admin-api',
] as const;
/**
 * `commands` runs the command side (gateway and command processor) in one process;
 * `projector:<model>` runs one read model's projector; `projectors` runs all five; `query` the query API;
 * `process-manager:order-fulfilment` the fulfilment process, `loyalty` the loyalty policy, `process-managers`
 * both; `payment-simulator` the stand-in for the external payment provider; `web` the browser UI and its
 * same-origin proxy to the gateway and the query API (docs/web-ui.md); `admin-api` the admin-only dead-letter
 * endpoints (consumers/admin-api/app.ts), never part of `all`: it is the one HTTP role that repairs read models.
 */
export type Role = (typeof ROLES)[number];

export interface RoleConfig {
  readonly role: Role;
  readonly instanceId: string;
  /** Gateway HTTP port (PORT, default 3000). */
  readonly port: number;
  /** Operations port of every process: /metrics, /healthz, /readyz (HEALTH_PORT, default 9464). */
  readonly healthPort: number;
  /** How long the gateway waits for a command's outcome before answering 202 (COMMAND_WAIT_MS, default 5000). */
  readonly commandWaitMs: number;
  /** Every command request is answered within this (REQUEST_TIMEOUT_MS, default COMMAND_WAIT_MS + 1000): 2xx/4xx as decided, else 503 with Retry-After. */
  readonly requestTimeoutMs: number;
  /** Largest order total in minor units (ORDER_MAX_TOTAL_MINOR, default 100000). */
  readonly maxOrderTotalMinor: number;
  /** Consecutive command partitions one task of the processor's runtime decides, one producer and one transaction per round (COMMAND_PARTITIONS_PER_WORKER, default 1; the same on every processor). */
  readonly commandPartitionsPerWorker: number;
  /** Query API HTTP port (QUERY_PORT, default 3001). */
  readonly queryPort: number;
  /** Admin API HTTP port (ADMIN_PORT, default 3003; ROLE=admin-api only). */
  readonly adminPort: number;
  /** Read-model keyspace (READ_MODEL_KEYSPACE, default live): rm:{<keyspace>}:... */
  readonly keyspace: string;
  /** Longest wait of a query for its consistency token (CONSISTENCY_WAIT_MS, default 3000). */
  readonly consistencyWaitMs: number;
  /** Interval of the live streams' keep-alive comments (LIVE_HEARTBEAT_MS, default 15000; docs/live-updates.md). */
  readonly liveHeartbeatMs: number;
  /** Attempts per projector write / decode before giving up (PROJECTOR_ATTEMPTS, default 5) and first backoff (PROJECTOR_BACKOFF_MS, default 100). */
  readonly projectorAttempts: number;
  readonly projectorBackoffMs: number;
  /** Order fulfilment: FULFILMENT_PAYMENT_TIMEOUT_MS (300000), FULFILMENT_MAX_PAYMENT_REQUESTS (1), FULFILMENT_REFUND_TIMEOUT_MS (600000), FULFILMENT_MAX_REFUND_REQUESTS (3). */
  readonly fulfilment: FulfilmentConfig;
  /** The payment simulator's seed (PAYMENT_SIMULATOR_SEED, default "restaurant"): the same seed, the same answers. */
  readonly simulatorSeed: string;
  /** PAYMENT_SIMULATOR_DECLINE_SHARE (0.1), PAYMENT_SIMULATOR_STALL_SHARE (0.05), PAYMENT_SIMULATOR_ANSWER_DELAY_MS (50-2000), PAYMENT_SIMULATOR_REFUND_DELAY_MS (100-3000). */
  readonly simulator: SimulatorConfig;
  /** The web role (docs/web-ui.md). */
  readonly web: WebRoleConfig;
  /**
   * Where the stateful roles keep their partition stores (STATE_DIR; one per
   * instance, on a disk that outlives restarts: docs/stateful-runtime.md
   * "Deploying"). Unset: a directory of the process's own, deleted at stop, so
   * every start restores from the changelog alone.
   */
  readonly stateDir: string | undefined;
  /** The changelogs' incarnation (STATE_CHANGELOG_EPOCH, default "1"): change it when changelog topics are recreated, and every store is rebuilt. */
  readonly changelogEpoch: string;
}

/** The stateful consumers a role runs on the process-manager runtime. */
export function processManagersOf(role: Role): ProcessManagerName[] {
  switch (role) {
    case 'all':
      return ['order-fulfilment', 'loyalty', 'payment-simulator'];
    case 'process-managers':
      return ['order-fulfilment', 'loyalty'];
    case 'process-manager:order-fulfilment':
      return ['order-fulfilment'];
    case 'loyalty':
      return ['loyalty'];
    case 'payment-simulator':
      return ['payment-simulator'];
    default:
      return [];
  }
}

/** The read models a role runs projectors for. */
export function projectorsOf(role: Role): ReadModelName[] {
  if (role === 'all' || role === 'projectors') return [...READ_MODELS];
  if (role.startsWith('projector:')) return [role.slice('projector:'.length) as ReadModelName];
  return [];
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name}=${JSON.stringify(raw)} is not a whole number from ${min} to ${max}`);
  return value;
}

function share(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(value >= 0 && value <= 1)) throw new Error(`${name}=${JSON.stringify(raw)} is not a share from 0 to 1`);
  return value;
}

function delayRange(env: NodeJS.ProcessEnv, name: string, fallback: DelayRange): DelayRange {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const match = /^(\d+)-(\d+)$/.exec(raw.trim());
  if (match === null) throw new Error(`${name}=${JSON.stringify(raw)} is not a range of milliseconds like 50-2000`);
  return { minMs: Number(match[1]), maxMs: Number(match[2]) };
}

function httpUrl(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch (cause) {
    throw new Error(`${name}=${JSON.stringify(raw)} is not a URL`, { cause });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`${name} must be an http(s) URL, got ${parsed.protocol}`);
  return parsed.origin;
}

/**
 * COMMAND_ENGINE chose between the command processor's own engine and the
 * stateful runtime until the runtime became its only engine. Unset or `runtime`
 * is accepted; anything else, on a role that runs the processor, is refused
 * rather than ignored: whoever set it expects an engine that is gone. The
 * runtime reads the stores and checkpoints the old engine wrote, so unsetting it
 * is all an upgrade needs (docs/command-side.md "Upgrading").
 */
export function commandEngineRefusal(role: Role, engine: string | undefined): string | undefined {
  if (engine === undefined || engine === '' || engine === 'runtime') return undefined;
  if (role !== 'all' && role !== 'commands' && role !== 'command-processor') return undefined;
  return (
    `COMMAND_ENGINE=${engine}: the command processor's own engine was removed; it runs on the stateful runtime only, ` +
    'which reads the stores and checkpoints under STATE_DIR that the old engine wrote as they are. Unset COMMAND_ENGINE (docs/command-side.md "Upgrading").'
  );
}

export function roleConfig(env: NodeJS.ProcessEnv = process.env): RoleConfig {
  const role = (env.ROLE ?? 'all') as Role;
  if (!(ROLES as readonly string[]).includes(role)) throw new Error(`ROLE=${JSON.stringify(env.ROLE)} is not one of ${ROLES.join(', ')}`);
  const engine = commandEngineRefusal(role, env.COMMAND_ENGINE);
  if (engine !== undefined) throw new Error(engine);
  const port = int(env, 'PORT', 3000, 0, 65535);
  const queryPort = int(env, 'QUERY_PORT', 3001, 0, 65535);
  const commandWaitMs = int(env, 'COMMAND_WAIT_MS', 5000, 1, 120_000);
  return Object.freeze({
    role,
    instanceId: env.INSTANCE_ID ?? randomUUID().slice(0, 8),
    port,
    healthPort: int(env, 'HEALTH_PORT', 9464, 0, 65535),
    commandWaitMs,
    requestTimeoutMs: int(env, 'REQUEST_TIMEOUT_MS', commandWaitMs + 1000, commandWaitMs + 1, 180_000),
    maxOrderTotalMinor: int(env, 'ORDER_MAX_TOTAL_MINOR', 100_000, 1, Number.MAX_SAFE_INTEGER),
    commandPartitionsPerWorker: int(env, 'COMMAND_PARTITIONS_PER_WORKER', 1, 1, 1024),
    queryPort,
    adminPort: int(env, 'ADMIN_PORT', 3003, 0, 65535),
    keyspace: assertKeyspace(env.READ_MODEL_KEYSPACE ?? DEFAULT_KEYSPACE),
    consistencyWaitMs: int(env, 'CONSISTENCY_WAIT_MS', 3000, 0, 60_000),
    liveHeartbeatMs: int(env, 'LIVE_HEARTBEAT_MS', 15_000, 100, 300_000),
    projectorAttempts: int(env, 'PROJECTOR_ATTEMPTS', 5, 1, 100),
    projectorBackoffMs: int(env, 'PROJECTOR_BACKOFF_MS', 100, 1, 60_000),
    fulfilment: Object.freeze({
      paymentTimeoutMs: int(env, 'FULFILMENT_PAYMENT_TIMEOUT_MS', DEFAULT_FULFILMENT_CONFIG.paymentTimeoutMs, 1, 7 * 24 * 3_600_000),
      maxPaymentRequests: int(env, 'FULFILMENT_MAX_PAYMENT_REQUESTS', DEFAULT_FULFILMENT_CONFIG.maxPaymentRequests, 1, 100),
      refundTimeoutMs: int(env, 'FULFILMENT_REFUND_TIMEOUT_MS', DEFAULT_FULFILMENT_CONFIG.refundTimeoutMs, 1, 7 * 24 * 3_600_000),
      maxRefundRequests: int(env, 'FULFILMENT_MAX_REFUND_REQUESTS', DEFAULT_FULFILMENT_CONFIG.maxRefundRequests, 1, 100),
    }),
    simulatorSeed: env.PAYMENT_SIMULATOR_SEED ?? 'restaurant',
    simulator: Object.freeze(
      validateSimulatorConfig({
        declineShare: share(env, 'PAYMENT_SIMULATOR_DECLINE_SHARE', DEFAULT_SIMULATOR_CONFIG.declineShare),
        stallShare: share(env, 'PAYMENT_SIMULATOR_STALL_SHARE', DEFAULT_SIMULATOR_CONFIG.stallShare),
        answerDelay: delayRange(env, 'PAYMENT_SIMULATOR_ANSWER_DELAY_MS', DEFAULT_SIMULATOR_CONFIG.answerDelay),
        refundDelay: delayRange(env, 'PAYMENT_SIMULATOR_REFUND_DELAY_MS', DEFAULT_SIMULATOR_CONFIG.refundDelay),
      }),
    ),
    stateDir: env.STATE_DIR?.trim() || undefined,
    changelogEpoch: env.STATE_CHANGELOG_EPOCH?.trim() || '1',
    web: Object.freeze({
      port: int(env, 'WEB_PORT', 3002, 0, 65535),
      gatewayUrl: httpUrl(env, 'WEB_GATEWAY_URL', `http://127.0.0.1:${port}`),
      queryUrl: httpUrl(env, 'WEB_QUERY_URL', `http://127.0.0.1:${queryPort}`),
      publicUrl: httpUrl(env, 'WEB_PUBLIC_URL', `http://127.0.0.1:${int(env, 'WEB_PORT', 3002, 0, 65535)}`),
      oidc: webOidc(env),
    }),
  });
}
