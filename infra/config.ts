import fs from 'node:fs';
import { readAuthSettings, type AuthSettings } from './auth/settings';
import { readStackSettings, replicationDefaults } from './stack/settings';
import { readTracingSettings, type TracingSettings } from './tracing/settings';

/**
 * The application's configuration: read from the environment once, validated,
 * frozen. Defaults point at the local stack (`npm run stack:up`), whose ports the
 * same variables move (KAFKA_PORT, REGISTRY_PORT, REDIS_PORT).
 */
export interface AppConfig {
  readonly kafka: {
    readonly brokers: readonly string[];
    readonly clientId: string;
    /** SASL credentials (KAFKA_SASL_*); absent: no authentication, the local stack's plaintext default. */
    readonly sasl?: KafkaSasl;
    /** TLS (KAFKA_SSL=true, KAFKA_SSL_CA_FILE, KAFKA_SSL_CERT_FILE + KAFKA_SSL_KEY_FILE); absent: plaintext. */
    readonly ssl?: KafkaTls;
  };
  readonly registry: { readonly url: string };
  readonly redis: { readonly url: string };
  /**
   * Partitions of every aggregate's topics (TOPIC_PARTITIONS, default 6); all topics of one aggregate share it.
   * Replicas of every topic (TOPIC_REPLICATION_FACTOR) and how many must have a write before it is acknowledged
   * (TOPIC_MIN_INSYNC_REPLICAS): by default 1 and 1 when one broker is listed, 3 and 2 when three or more are.
   */
  readonly topics: { readonly partitions: number; readonly replicationFactor: number; readonly minInsyncReplicas: number };
  /** Bearer-token authentication of the HTTP APIs, rate limits and /metrics protection (infra/auth/settings.ts, docs/security.md). */
  readonly auth: AuthSettings;
  /** Distributed tracing (TRACING, TRACING_SAMPLE_RATIO, ZIPKIN_URL / ZIPKIN_PORT, OTLP_TRACES_URL; docs/tracing.md). */
  readonly tracing: TracingSettings;
}

export const SASL_MECHANISMS = ['scram-sha-512', 'scram-sha-256', 'plain'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface KafkaSasl {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: string;
}

/** PEM contents, read once at start-up; a missing CA means the system's trusted roots. */
export interface KafkaTls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
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

function readFile(name: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(`${name}=${JSON.stringify(file)} cannot be read (${(cause as Error).message})`, { cause });
  }
}

const present = (raw: string | undefined): raw is string => raw !== undefined && raw !== '';

/** KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE (docs/least-privilege.md). */
export function readKafkaSasl(env: Env): KafkaSasl | undefined {
  const { KAFKA_SASL_MECHANISM: raw, KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password, KAFKA_SASL_PASSWORD_FILE: passwordFile } = env;
  if (!present(raw)) {
    const stray = (['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE'] as const).filter((n) => present(env[n]));
    if (stray.length > 0) throw new ConfigError(`${stray.join(' and ')} set without KAFKA_SASL_MECHANISM (one of ${SASL_MECHANISMS.join(', ')})`);
    return undefined;
  }
  const mechanism = raw.toLowerCase();
  if (!(SASL_MECHANISMS as readonly string[]).includes(mechanism)) {
    throw new ConfigError(`KAFKA_SASL_MECHANISM=${JSON.stringify(raw)} is not one of ${SASL_MECHANISMS.join(', ')}`);
  }
  if (!present(username)) throw new ConfigError(`KAFKA_SASL_MECHANISM=${mechanism} needs KAFKA_SASL_USERNAME`);
  if (present(password) && present(passwordFile)) throw new ConfigError('set KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both');
  if (!present(password) && !present(passwordFile)) throw new ConfigError(`KAFKA_SASL_MECHANISM=${mechanism} needs KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE`);
  const secret = present(password) ? password : readFile('KAFKA_SASL_PASSWORD_FILE', passwordFile as string).replace(/\r?\n$/, '');
  if (secret === '') throw new ConfigError('KAFKA_SASL_PASSWORD_FILE holds an empty password');
  return Object.freeze({ mechanism: mechanism as SaslMechanism, username, password: secret });
}

/** KAFKA_SSL=true, with optional KAFKA_SSL_CA_FILE and a client certificate (KAFKA_SSL_CERT_FILE with KAFKA_SSL_KEY_FILE). */
export function readKafkaTls(env: Env): KafkaTls | undefined {
  const flag = env.KAFKA_SSL ?? '';
  if (!['', 'true', 'false'].includes(flag)) throw new ConfigError(`KAFKA_SSL=${JSON.stringify(flag)} is not true or false`);
  const files = (['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const).filter((n) => present(env[n]));
  if (flag !== 'true') {
    if (files.length > 0) throw new ConfigError(`${files.join(' and ')} set but KAFKA_SSL is not true`);
    return undefined;
  }
  if (present(env.KAFKA_SSL_CERT_FILE) !== present(env.KAFKA_SSL_KEY_FILE)) {
    throw new ConfigError('a client certificate needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE');
  }
  const tls: { ca?: string; cert?: string; key?: string } = {};
  if (present(env.KAFKA_SSL_CA_FILE)) tls.ca = readFile('KAFKA_SSL_CA_FILE', env.KAFKA_SSL_CA_FILE);
  if (present(env.KAFKA_SSL_CERT_FILE)) tls.cert = readFile('KAFKA_SSL_CERT_FILE', env.KAFKA_SSL_CERT_FILE);
  if (present(env.KAFKA_SSL_KEY_FILE)) tls.key = readFile('KAFKA_SSL_KEY_FILE', env.KAFKA_SSL_KEY_FILE);
  return Object.freeze(tls);
}

/**
 * A role pointed at the secured local stack (STACK_KAFKA_SECURITY=sasl, no
 * KAFKA_BROKERS of its own) without credentials would only see its
 * connections closed; this says what to do instead. Undefined when fine.
 */
export function missingKafkaCredentials(env: Env = process.env): string | undefined {
  if (present(env.KAFKA_SASL_MECHANISM) || present(env.KAFKA_BROKERS) || readStackSettings(env).kafka.security !== 'sasl') return undefined;
  return 'the local stack runs Kafka secured (STACK_KAFKA_SECURITY=sasl) but KAFKA_SASL_MECHANISM is not set: run as a role\'s principal, e.g. eval "$(npm run -s access:env -- all)" (docs/least-privilege.md)';
}

export function readConfig(env: Env = process.env): AppConfig {
  const stack = readStackSettings(env);
  // The local stack's every node (STACK_BROKERS), unless KAFKA_BROKERS names a cluster elsewhere.
  const brokers = (env.KAFKA_BROKERS ?? stack.kafka.brokers.map((b) => `${stack.host}:${b.port}`).join(','))
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  for (const broker of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(broker)) throw new ConfigError(`KAFKA_BROKERS entry ${JSON.stringify(broker)} is not host:port`);
  }
  if (brokers.length === 0) throw new ConfigError('KAFKA_BROKERS is empty');
  const sasl = readKafkaSasl(env);
  const ssl = readKafkaTls(env);
  return Object.freeze({
    kafka: Object.freeze({
      brokers: Object.freeze(brokers),
      clientId: env.KAFKA_CLIENT_ID ?? 'restaurant',
      ...(sasl === undefined ? {} : { sasl }),
      ...(ssl === undefined ? {} : { ssl }),
    }),
    registry: Object.freeze({
      url: url('SCHEMA_REGISTRY_URL', env.SCHEMA_REGISTRY_URL ?? `http://${stack.host}:${stack.registry.port}/apis/ccompat/v7`),
    }),
    redis: Object.freeze({ url: url('REDIS_URL', env.REDIS_URL ?? `redis://${stack.host}:${stack.redis.port}`) }),
    topics: Object.freeze({ partitions: positiveInt('TOPIC_PARTITIONS', env.TOPIC_PARTITIONS, 6, 1000), ...readReplication(env, brokers.length) }),
    auth: readAuthSettings(env, stack.home),
    tracing: readTracingSettings(env),
  });
}

/**
 * TOPIC_REPLICATION_FACTOR and TOPIC_MIN_INSYNC_REPLICAS, defaulting to what fits
 * the number of brokers listed (infra/stack/settings.ts: replicationDefaults). A
 * bootstrap list shorter than the cluster (a load balancer's one address) needs them set.
 */
export function readReplication(env: Env, brokersListed: number): { replicationFactor: number; minInsyncReplicas: number } {
  const fallback = replicationDefaults(brokersListed);
  const replicationFactor = positiveInt('TOPIC_REPLICATION_FACTOR', env.TOPIC_REPLICATION_FACTOR, fallback.replicationFactor, 32);
  const minFallback = present(env.TOPIC_REPLICATION_FACTOR) ? replicationDefaults(replicationFactor).minInsyncReplicas : fallback.minInsyncReplicas;
  const minInsyncReplicas = positiveInt('TOPIC_MIN_INSYNC_REPLICAS', env.TOPIC_MIN_INSYNC_REPLICAS, minFallback, 32);
  if (minInsyncReplicas > replicationFactor) {
    throw new ConfigError(`TOPIC_MIN_INSYNC_REPLICAS=${minInsyncReplicas} is more than the ${replicationFactor} replicas of TOPIC_REPLICATION_FACTOR: no write could ever be acknowledged`);
  }
  return { replicationFactor, minInsyncReplicas };
}

let loaded: AppConfig | undefined;
/** The process-wide configuration, read on first use. */
export function config(): AppConfig {
  return (loaded ??= readConfig());
}
