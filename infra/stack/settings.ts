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
    readonly port: number;
    readonly controllerPort: number;
    readonly heapMb: number;
    /** STACK_KAFKA_SECURITY: `plaintext` (default) or `sasl` (SCRAM-SHA-512 and ACLs, docs/least-privilege.md). */
    readonly security: KafkaSecurityMode;
  };
  readonly registry: { readonly port: number; readonly heapMb: number };
  readonly redis: { readonly port: number };
  readonly startTimeoutMs: number;
  readonly javaBin: string;
  readonly mavenBin: string;
}

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
  const settings: StackSettings = {
    home,
    cacheDir: path.resolve(env.STACK_CACHE_DIR ?? path.join(home, 'cache')),
    dataDir: path.resolve(env.STACK_DATA_DIR ?? path.join(home, 'data')),
    logDir: path.join(home, 'logs'),
    runDir: path.join(home, 'run'),
    host: '127.0.0.1',
    kafka: {
      port: port('KAFKA_PORT', 9092),
      controllerPort: port('KAFKA_CONTROLLER_PORT', 9093),
      heapMb: intFrom(env, 'KAFKA_HEAP_MB', 768, 256, 16384),
      security: securityMode(env.STACK_KAFKA_SECURITY),
    },
    registry: {
      port: port('REGISTRY_PORT', 8081),
      heapMb: intFrom(env, 'REGISTRY_HEAP_MB', 384, 128, 16384),
    },
    redis: { port: port('REDIS_PORT', 6379) },
    startTimeoutMs: intFrom(env, 'STACK_START_TIMEOUT_S', 120, 5, 3600) * 1000,
    javaBin: javaHome ? path.join(javaHome, 'bin', 'java') : 'java',
    mavenBin: env.MAVEN_BIN ?? 'mvn',
  };
  const ports = [settings.kafka.port, settings.kafka.controllerPort, settings.registry.port, settings.redis.port];
  if (new Set(ports).size !== ports.length) {
    throw new StackConfigError(
      `KAFKA_PORT, KAFKA_CONTROLLER_PORT, REGISTRY_PORT and REDIS_PORT must differ (got ${ports.join(', ')})`,
    );
  }
  return Object.freeze(settings);
}
