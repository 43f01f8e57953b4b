import { randomUUID } from 'node:crypto';

export const ROLES = ['all', 'gateway', 'command-processor'] as const;
export type Role = (typeof ROLES)[number];

export interface RoleConfig {
  readonly role: Role;
  readonly instanceId: string;
  /** Gateway HTTP port (PORT, default 3000). */
  readonly port: number;
  /** Health endpoint port for roles without HTTP (HEALTH_PORT, default 9464). */
  readonly healthPort: number;
  /** How long the gateway waits for a command's outcome before answering 202 (COMMAND_WAIT_MS, default 5000). */
  readonly commandWaitMs: number;
  /** Largest order total in minor units (ORDER_MAX_TOTAL_MINOR, default 100000). */
  readonly maxOrderTotalMinor: number;
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
  if (!ROLES.includes(role)) throw new Error(`ROLE=${JSON.stringify(env.ROLE)} is not one of ${ROLES.join(', ')}`);
  return Object.freeze({
    role,
    instanceId: env.INSTANCE_ID ?? randomUUID().slice(0, 8),
    port: int(env, 'PORT', 3000, 0, 65535),
    healthPort: int(env, 'HEALTH_PORT', 9464, 0, 65535),
    commandWaitMs: int(env, 'COMMAND_WAIT_MS', 5000, 1, 120_000),
    maxOrderTotalMinor: int(env, 'ORDER_MAX_TOTAL_MINOR', 100_000, 1, Number.MAX_SAFE_INTEGER),
  });
}
