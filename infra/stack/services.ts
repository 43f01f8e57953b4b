import net from 'node:net';
import path from 'node:path';
import { KAFKA_REGISTRY, kafkaUsers } from '../kafka/principals';
import { ensureCredentials } from './credentials';
import { bootstrapServers, kafkaServices } from './kafka-nodes';
import type { StackSettings } from './settings';
import { launch } from './processes';
import type { Service } from './service';

export type { Service } from './service';
export { bootstrapServers, kafkaProperties, kafkaService, kafkaServices, stackAdminSasl, type KafkaAdminLogin } from './kafka-nodes';

/** The registry's Kafka client settings on a secured broker: its own SCRAM user. */
function registryKafkaSecurity(s: StackSettings): string[] {
  if (s.kafka.security !== 'sasl') return [];
  const password = ensureCredentials(s.home, { kafka: kafkaUsers() }).kafka[KAFKA_REGISTRY] as string;
  return [
    '-Dapicurio.kafka.common.security.protocol=SASL_PLAINTEXT',
    '-Dapicurio.kafka.common.sasl.mechanism=SCRAM-SHA-512',
    `-Dapicurio.kafka.common.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${KAFKA_REGISTRY}" password="${password}";`,
  ];
}

export function registryService(s: StackSettings): Service {
  const runDir = path.join(s.runDir, 'registry');
  const base = `http://${s.host}:${s.registry.port}`;
  const ok = async (url: string): Promise<boolean> => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  };
  return {
    kind: 'registry',
    name: 'registry',
    address: `${base}/apis/ccompat/v7`,
    ports: [{ port: s.registry.port, env: 'REGISTRY_PORT' }],
    logFile: path.join(s.logDir, 'registry.log'),
    pidFile: path.join(runDir, 'registry.pid'),
    marker: 'apicurio-registry',
    async healthy() {
      return (await ok(`${base}/health/ready`)) && (await ok(`${base}/apis/ccompat/v7/subjects`));
    },
    start(artifacts) {
      return launch({
        command: s.javaBin,
        args: [
          `-Xmx${s.registry.heapMb}m`,
          '-XX:+UseSerialGC',
          `-Dquarkus.http.host=${s.host}`,
          `-Dquarkus.http.port=${s.registry.port}`,
          // Schemas live in a Kafka topic, so they share fate with the events that reference their ids.
          '-Dapicurio.storage.kind=kafkasql',
          // Every node, so the registry starts (and fails over) whichever of them is down.
          `-Dapicurio.kafkasql.bootstrap.servers=${bootstrapServers(s)}`,
          ...registryKafkaSecurity(s),
          // Confluent's default; clients then see a compatibility level for every subject.
          '-Dapicurio.rules.global.compatibility=BACKWARD',
          `-Dapicurio.import.work-dir=${runDir}`,
          '-jar',
          artifacts.registryJar,
        ],
        cwd: runDir,
        logFile: this.logFile,
        pidFile: this.pidFile,
      });
    },
  };
}

/** Sends PING over a raw socket: no client library, no reconnect loops. */
export function redisPing(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result: boolean): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.once('error', () => done(false));
  });
}

export function redisService(s: StackSettings): Service {
  const runDir = path.join(s.runDir, 'redis');
  return {
    kind: 'redis',
    name: 'redis',
    address: `redis://${s.host}:${s.redis.port}`,
    ports: [{ port: s.redis.port, env: 'REDIS_PORT' }],
    logFile: path.join(s.logDir, 'redis.log'),
    pidFile: path.join(runDir, 'redis.pid'),
    marker: 'redis-server',
    healthy: () => redisPing(s.host, s.redis.port),
    start() {
      return launch({
        command: 'redis-server',
        args: ['--port', String(s.redis.port), '--bind', s.host, '--save', '', '--appendonly', 'no', '--dir', runDir],
        cwd: runDir,
        logFile: this.logFile,
        pidFile: this.pidFile,
      });
    },
  };
}

/** Zipkin, the trace backend: its server jar, spans kept in memory (a restart forgets them), on ZIPKIN_PORT. */
export function zipkinService(s: StackSettings): Service {
  const runDir = path.join(s.runDir, 'zipkin');
  const base = `http://${s.host}:${s.zipkin.port}`;
  return {
    kind: 'zipkin',
    name: 'zipkin',
    address: base,
    ports: [{ port: s.zipkin.port, env: 'ZIPKIN_PORT' }],
    logFile: path.join(s.logDir, 'zipkin.log'),
    pidFile: path.join(runDir, 'zipkin.pid'),
    marker: 'zipkin-server',
    async healthy() {
      try {
        const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
        const body = (await res.json()) as { status?: unknown };
        return res.ok && body.status === 'UP';
      } catch {
        return false;
      }
    },
    start(artifacts) {
      if (artifacts.zipkinJar === undefined) throw new Error('Zipkin was not provisioned (STACK_ZIPKIN=1 provisions it)');
      return launch({
        command: s.javaBin,
        args: [`-Xmx${s.zipkin.heapMb}m`, '-XX:+UseSerialGC', '-jar', artifacts.zipkinJar, `--QUERY_PORT=${s.zipkin.port}`, '--STORAGE_TYPE=mem', `--MEM_MAX_SPANS=${s.zipkin.maxSpans}`],
        cwd: runDir,
        logFile: this.logFile,
        pidFile: this.pidFile,
      });
    },
  };
}

/**
 * In start order, by stage: a stage's services start together and are all
 * healthy before the next stage starts. The nodes of a cluster are one stage
 * (none of them is healthy before a majority of the controller quorum runs);
 * the registry keeps its schemas in Kafka, so Kafka comes first.
 */
export function serviceStages(s: StackSettings): ReadonlyArray<readonly Service[]> {
  const stages = [[redisService(s)], kafkaServices(s), [registryService(s)]];
  return s.zipkin.enabled ? [...stages, [zipkinService(s)]] : stages;
}

export function allServices(s: StackSettings): readonly Service[] {
  return serviceStages(s).flat();
}
