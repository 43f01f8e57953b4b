import { readAuthSettings, type AuthSettings } from './auth/settings';
import { readStackSettings } from './stack/settings';

/**
 * The application's configuration: read from the environment once, validated,
 * frozen. Defaults point at the local stack (`npm run stack:up`), whose ports the
 * same variables move (KAFKA_PORT, REGISTRY_PORT, REDIS_PORT).
 */
export interface AppConfig {
  readonly kafka: { readonly brokers: readonly string[]; readonly clientId: string };
  readonly registry: { readonly url: string };
  readonly redis: { readonly url: string };
  /** Partitions of every aggregate's topics (TOPIC_PARTITIONS, default 6); all topics of one aggregate share it. */
  readonly topics: { readonly partitions: number };
  /** Bearer-token authentication of the HTTP APIs, rate limits and /metrics protection (infra/auth/settings.ts, docs/security.md). */
  readonly auth: AuthSettings;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function url(name: string, raw: string): string {
  try {
    return new URL(raw).toString().replace(/\/$/, '');
  } catch (cause) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a URL`, { cause });
  }
}

function positiveInt(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a whole number from 1 to ${max}`);
  return value;
}

export function readConfig(env: Env = process.env): AppConfig {
  const stack = readStackSettings(env);
  const brokers = (env.KAFKA_BROKERS ?? `${stack.host}:${stack.kafka.port}`)
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  for (const broker of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(broker)) throw new ConfigError(`KAFKA_BROKERS entry ${JSON.stringify(broker)} is not host:port`);
  }
  if (brokers.length === 0) throw new ConfigError('KAFKA_BROKERS is empty');
  return Object.freeze({
    kafka: Object.freeze({ brokers: Object.freeze(brokers), clientId: env.KAFKA_CLIENT_ID ?? 'restaurant' }),
    registry: Object.freeze({
      url: url('SCHEMA_REGISTRY_URL', env.SCHEMA_REGISTRY_URL ?? `http://${stack.host}:${stack.registry.port}/apis/ccompat/v7`),
    }),
    redis: Object.freeze({ url: url('REDIS_URL', env.REDIS_URL ?? `redis://${stack.host}:${stack.redis.port}`) }),
    topics: Object.freeze({ partitions: positiveInt('TOPIC_PARTITIONS', env.TOPIC_PARTITIONS, 6, 1000) }),
    auth: readAuthSettings(env, stack.home),
  });
}

let loaded: AppConfig | undefined;
/** The process-wide configuration, read on first use. */
export function config(): AppConfig {
  return (loaded ??= readConfig());
}
