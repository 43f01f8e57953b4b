import { randomUUID } from 'node:crypto';
import { assertKeyspace, DEFAULT_KEYSPACE, READ_MODELS, type ReadModelName } from '../../consumers/projections/shared/keys';

export const ROLES = ['all', 'gateway', 'command-processor', 'projectors', 'query', ...READ_MODELS.map((m) => `projector:${m}` as const)] as const;
/** `projector:<model>` runs one read model's projector; `projectors` runs all five; `query` the query API. */
export type Role = 'all' | 'gateway' | 'command-processor' | 'projectors' | 'query' | `projector:${ReadModelName}`;

export interface RoleConfig {
  readonly role: Role;
  readonly instanceId: string;
  /** Gateway HTTP port (PORT, default 3000). */
  readonly port: number;
  /** Operations port of every process: /metrics, /healthz, /readyz (HEALTH_PORT, default 9464). */
  readonly healthPort: number;
  /** How long the gateway waits for a command's outcome before answering 202 (COMMAND_WAIT_MS, default 5000). */
  readonly commandWaitMs: number;
  /** Largest order total in minor units (ORDER_MAX_TOTAL_MINOR, default 100000). */
  readonly maxOrderTotalMinor: number;
  /** Query API HTTP port (QUERY_PORT, default 3001). */
  readonly queryPort: number;
  /** Read-model keyspace (READ_MODEL_KEYSPACE, default live): rm:{<keyspace>}:... */
  readonly keyspace: string;
  /** Longest wait of a query for its consistency token (CONSISTENCY_WAIT_MS, default 3000). */
  readonly consistencyWaitMs: number;
  /** Attempts per projector write / decode before giving up (PROJECTOR_ATTEMPTS, default 5) and first backoff (PROJECTOR_BACKOFF_MS, default 100). */
  readonly projectorAttempts: number;
  readonly projectorBackoffMs: number;
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

export function roleConfig(env: NodeJS.ProcessEnv = process.env): RoleConfig {
  const role = (env.ROLE ?? 'all') as Role;
  if (!(ROLES as readonly string[]).includes(role)) throw new Error(`ROLE=${JSON.stringify(env.ROLE)} is not one of ${ROLES.join(', ')}`);
  return Object.freeze({
    role,
    instanceId: env.INSTANCE_ID ?? randomUUID().slice(0, 8),
    port: int(env, 'PORT', 3000, 0, 65535),
    healthPort: int(env, 'HEALTH_PORT', 9464, 0, 65535),
    commandWaitMs: int(env, 'COMMAND_WAIT_MS', 5000, 1, 120_000),
    maxOrderTotalMinor: int(env, 'ORDER_MAX_TOTAL_MINOR', 100_000, 1, Number.MAX_SAFE_INTEGER),
    queryPort: int(env, 'QUERY_PORT', 3001, 0, 65535),
    keyspace: assertKeyspace(env.READ_MODEL_KEYSPACE ?? DEFAULT_KEYSPACE),
    consistencyWaitMs: int(env, 'CONSISTENCY_WAIT_MS', 3000, 0, 60_000),
    projectorAttempts: int(env, 'PROJECTOR_ATTEMPTS', 5, 1, 100),
    projectorBackoffMs: int(env, 'PROJECTOR_BACKOFF_MS', 100, 1, 60_000),
  });
}
