import path from 'node:path';

/** Where and how the local stack runs. Read once from the environment, validated, frozen. */
export interface StackSettings {
  readonly home: string;
  readonly cacheDir: string;
  readonly dataDir: string;
  readonly logDir: string;
  readonly runDir: string;
  readonly host: string;
  readonly kafka: {
    /** The first broker's client port (KAFKA_PORT) and controller port (KAFKA_CONTROLLER_PORT). */
    readonly port: number;
    readonly controllerPort: number;
    /**
     * Every node (STACK_BROKERS, default 1): node n listens on KAFKA_PORT + 100·(n−1)
     * and its controller on KAFKA_CONTROLLER_PORT + 100·(n−1). Each node is a
     * broker and a controller, so the controller quorum has as many voters as brokers.
     */
    readonly brokers: readonly BrokerNode[];
    readonly heapMb: number;
    /** STACK_KAFKA_SECURITY: `plaintext` (default) or `sasl` (SCRAM-SHA-512 and ACLs, docs/least-privilege.md). */
    readonly security: KafkaSecurityMode;
  };
  readonly registry: { readonly port: number; readonly heapMb: number };
  readonly redis: { readonly port: number };
  /** Zipkin (docs/tracing.md): started with the stack when STACK_ZIPKIN=1, on ZIPKIN_PORT (default 9411), in-memory storage. */
  readonly zipkin: { readonly enabled: boolean; readonly port: number; readonly heapMb: number; readonly maxSpans: number };
  readonly startTimeoutMs: number;
  readonly javaBin: string;
  readonly mavenBin: string;
}

/** One Kafka node of the local stack: a broker and a KRaft controller in one process. */
export interface BrokerNode {
  readonly nodeId: number;
  readonly port: number;
  readonly controllerPort: number;
}

/** How far apart the ports of consecutive nodes are (node 2 of KAFKA_PORT=9092 listens on 9192). */
export const BROKER_PORT_STEP = 100;
/** The most nodes the local stack runs: enough for a quorum of five and a spare. */
export const MAX_BROKERS = 9;

export const KAFKA_SECURITY_MODES = ['plaintext', 'sasl'] as const;
export type KafkaSecurityMode = (typeof KAFKA_SECURITY_MODES)[number];

export class StackConfigError extends Error {
  override readonly name = 'StackConfigError';
}

type Env = Record<string, string | undefined>;

function intFrom(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new StackConfigError(`${name}=${JSON.stringify(raw)} is not a whole number from ${min} to ${max}`);
  }
  return value;
}

function flag(env: Env, name: string): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new StackConfigError(`${name}=${JSON.stringify(raw)} is not 1 or 0`);
}

function securityMode(raw: string | undefined): KafkaSecurityMode {
  if (raw === undefined || raw === '') return 'plaintext';
  if (!(KAFKA_SECURITY_MODES as readonly string[]).includes(raw)) {
    throw new StackConfigError(`STACK_KAFKA_SECURITY=${JSON.stringify(raw)} is not one of ${KAFKA_SECURITY_MODES.join(', ')}`);
  }
  return raw as KafkaSecurityMode;
}

/** The repository's root, also when running the compiled tree (`npm run build` writes it to <root>/dist). */
export const repoRoot = ((up) => (path.basename(up) === 'dist' ? path.dirname(up) : up))(path.resolve(__dirname, '..', '..'));

export function readStackSettings(env: Env = process.env): StackSettings {
  const home = path.resolve(env.STACK_HOME ?? path.join(repoRoot, '.local'));
  const port = (name: string, fallback: number): number => intFrom(env, name, fallback, 1, 65535);
  const javaHome = env.JAVA_HOME;
  const firstPort = port('KAFKA_PORT', 9092);
  const firstControllerPort = port('KAFKA_CONTROLLER_PORT', 9093);
  const brokerCount = intFrom(env, 'STACK_BROKERS', 1, 1, MAX_BROKERS);
  const brokers = Array.from({ length: brokerCount }, (_, i): BrokerNode => {
    const step = i * BROKER_PORT_STEP;
    if (firstPort + step > 65535 || firstControllerPort + step > 65535) {
      throw new StackConfigError(`STACK_BROKERS=${brokerCount} puts node ${i + 1} above port 65535 (KAFKA_PORT=${firstPort}, KAFKA_CONTROLLER_PORT=${firstControllerPort}, ${BROKER_PORT_STEP} apart)`);
    }
    return Object.freeze({ nodeId: i + 1, port: firstPort + step, controllerPort: firstControllerPort + step });
  });
  const settings: StackSettings = {
    home,
    cacheDir: path.resolve(env.STACK_CACHE_DIR ?? path.join(home, 'cache')),
    dataDir: path.resolve(env.STACK_DATA_DIR ?? path.join(home, 'data')),
    logDir: path.join(home, 'logs'),
    runDir: path.join(home, 'run'),
    host: '127.0.0.1',
    kafka: {
      port: firstPort,
      controllerPort: firstControllerPort,
      brokers: Object.freeze(brokers),
      heapMb: intFrom(env, 'KAFKA_HEAP_MB', 768, 256, 16384),
      security: securityMode(env.STACK_KAFKA_SECURITY),
    },
    registry: {
      port: port('REGISTRY_PORT', 8081),
      heapMb: intFrom(env, 'REGISTRY_HEAP_MB', 384, 128, 16384),
    },
    redis: { port: port('REDIS_PORT', 6379) },
    zipkin: { enabled: flag(env, 'STACK_ZIPKIN'), port: port('ZIPKIN_PORT', 9411), heapMb: intFrom(env, 'ZIPKIN_HEAP_MB', 256, 128, 16384), maxSpans: intFrom(env, 'ZIPKIN_MAX_SPANS', 100_000, 1000, 10_000_000) },
    startTimeoutMs: intFrom(env, 'STACK_START_TIMEOUT_S', 120, 5, 3600) * 1000,
    javaBin: javaHome ? path.join(javaHome, 'bin', 'java') : 'java',
    mavenBin: env.MAVEN_BIN ?? 'mvn',
  };
  const ports = [...brokers.flatMap((b) => [b.port, b.controllerPort]), settings.registry.port, settings.redis.port, settings.zipkin.port];
  if (new Set(ports).size !== ports.length) {
    const nodes = brokers.length > 1 ? ` (and, ${BROKER_PORT_STEP} apart, those of the other ${brokers.length - 1} nodes of STACK_BROKERS)` : '';
    throw new StackConfigError(
      `KAFKA_PORT, KAFKA_CONTROLLER_PORT${nodes}, REGISTRY_PORT, REDIS_PORT and ZIPKIN_PORT must differ (got ${ports.join(', ')})`,
    );
  }
  return Object.freeze(settings);
}

/**
 * Replication that fits a cluster of `brokers` nodes: one copy on one broker;
 * on a cluster three copies (or as many as there are brokers), of which all but
 * one must have a write before it is acknowledged (acks=all), so one broker can
 * be lost without losing an acknowledged write or refusing new ones.
 */
export function replicationDefaults(brokers: number): { readonly replicationFactor: number; readonly minInsyncReplicas: number } {
  const replicationFactor = Math.max(1, Math.min(3, brokers));
  return { replicationFactor, minInsyncReplicas: Math.max(1, replicationFactor - 1) };
}
