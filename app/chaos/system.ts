// The restaurant under test, owned by the chaos run: a Kafka broker of its own
// (own-kafka.ts; the schema registry stays the local stack's), a redis-server of
// its own (never the machine's 6379), and every role twice. Each instance
// reaches the registry and Redis through proxies of its own, so one instance's
// network can be cut (its proxies drop every connection and refuse new ones)
// and the registry can be "down" for every instance at once.
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Role } from '../roles';
import { config } from '../../infra/config';
import { AvroCodec } from '../../infra/kafka/codec';
import { allTopicSpecs, applyTopics, registerSubjects } from '../../infra/kafka/topics';
import { topicCatalog } from '../../schemas/topics';
import { singleBroker, threeNodes, type KafkaUnderTest } from './kafka-under-test';
import { startRedisServer, type TestRedisServer } from './redis-server';
import { startRole, type RolePorts, type RoleProcess } from './role-process';
import { tcpProxy, type TcpProxy } from './tcp-proxy';

/** `combined`: two processes of ROLE=all (every role twice, cheap); `split`: two processes of each role, as `npm run cluster` runs them. */
export type Layout = 'combined' | 'split';

const SPLIT_ROLES = ['command-processor', 'gateway', 'projectors', 'query', 'process-managers', 'payment-simulator'] as const satisfies readonly Role[];

export interface Instance {
  readonly name: string;
  readonly role: Role;
  process: RoleProcess | undefined;
  ports: RolePorts | undefined;
  readonly registryProxy: TcpProxy;
  readonly redisProxy: TcpProxy;
}

export interface SystemOptions {
  readonly layout: Layout;
  readonly keyspace: string;
  /** One broker, or a three-node cluster whose ports are this far above the caller's (KAFKA_PORT, ...). */
  readonly kafka: { readonly kind: 'single' } | { readonly kind: 'cluster'; readonly portOffset: number };
  /** Extra environment of every role. */
  readonly env?: Record<string, string>;
}

export class ChaosSystem {
  readonly instances: Instance[] = [];
  private constructor(
    readonly broker: KafkaUnderTest,
    readonly redis: TestRedisServer,
    private readonly options: SystemOptions,
  ) {}

  static async start(options: SystemOptions, say: (line: string) => void): Promise<ChaosSystem> {
    say(options.kafka.kind === 'single' ? "starting a Kafka broker of the run's own" : "starting a three-node Kafka cluster of the run's own (and its registry)");
    const broker = options.kafka.kind === 'single' ? await singleBroker() : await threeNodes(options.kafka.portOffset, say);
    say(`Kafka: ${broker.description}`);
    const redis = await startRedisServer();
    say(`redis-server of the run's own on ${redis.url}`);
    const system = new ChaosSystem(broker, redis, options);
    // The replication the roles will declare: 3 replicas and min.insync.replicas 2 on the cluster.
    const replication = broker.kind === 'cluster' ? { replicationFactor: 3, minInsyncReplicas: 2 } : { replicationFactor: 1, minInsyncReplicas: 1 };
    const specs = allTopicSpecs(topicCatalog({ partitions: config().topics.partitions, ...replication }));
    const admin = broker.kafka('chaos.setup').admin();
    await admin.connect();
    try {
      await applyTopics(admin, specs);
    } finally {
      await admin.disconnect();
    }
    await registerSubjects(new AvroCodec(new SchemaRegistry({ host: broker.registryUrl })), specs);
    const roles: Role[] = options.layout === 'combined' ? ['all'] : [...SPLIT_ROLES];
    const registry = new URL(broker.registryUrl);
    for (const role of roles) {
      for (let k = 1; k <= 2; k += 1) {
        const registryProxy = await tcpProxy(registry.hostname, Number(registry.port));
        const redisProxy = await tcpProxy('127.0.0.1', redis.port);
        await Promise.all([registryProxy.open(), redisProxy.open()]);
        system.instances.push({ name: `${role}-${k}`, role, process: undefined, ports: undefined, registryProxy, redisProxy });
      }
    }
    say(`starting ${system.instances.length} role instances (${roles.join(', ')}, twice each)`);
    // A few at a time: two cores start a dozen node processes slowly enough as it is.
    for (let i = 0; i < system.instances.length; i += 4) await Promise.all(system.instances.slice(i, i + 4).map((instance) => system.launch(instance)));
    return system;
  }

  private envOf(instance: Instance): Record<string, string> {
    const registry = new URL(this.broker.registryUrl);
    return {
      ...this.broker.env,
      SCHEMA_REGISTRY_URL: `http://127.0.0.1:${instance.registryProxy.port}${registry.pathname}`,
      REDIS_URL: `redis://127.0.0.1:${instance.redisProxy.port}`,
      READ_MODEL_KEYSPACE: this.options.keyspace,
      INSTANCE_ID: instance.name,
      ...this.options.env,
    };
  }

  /** Starts (or starts again, on the same ports) one instance and waits until it says ready. */
  async launch(instance: Instance, waitReady = true): Promise<void> {
    instance.process = await startRole(instance.role, this.envOf(instance), { ports: instance.ports, waitReady, readyTimeoutMs: 180_000 });
    instance.ports = instance.process.ports;
  }

  gatewayUrls(): string[] {
    return this.instances.filter((i) => i.role === 'all' || i.role === 'gateway').map((i) => `http://127.0.0.1:${i.ports?.port}`);
  }

  queryUrls(): string[] {
    return this.instances.filter((i) => i.role === 'all' || i.role === 'query').map((i) => `http://127.0.0.1:${i.ports?.queryPort}`);
  }

  async ready(instance: Instance): Promise<boolean> {
    return (await this.readiness(instance)).length === 0;
  }

  /** Why an instance is not ready, as its /readyz says (empty: ready). */
  async readiness(instance: Instance): Promise<string[]> {
    try {
      const res = await fetch(`http://127.0.0.1:${instance.ports?.healthPort}/readyz`, { signal: AbortSignal.timeout(2000) });
      const body = (await res.json().catch(() => ({}))) as { reasons?: unknown };
      if (res.ok) return [];
      return Array.isArray(body.reasons) && body.reasons.length > 0 ? body.reasons.map(String) : [`/readyz ${res.status}`];
    } catch (error) {
      return [`/readyz unanswered: ${error instanceof Error ? error.message : String(error)}`];
    }
  }

  /** Instances that have exited on their own (none should). */
  exited(): string[] {
    return this.instances.filter((i) => i.process !== undefined && i.process.child.exitCode !== null).map((i) => `${i.name} (exit ${i.process?.child.exitCode})`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.process?.stop().catch(() => null)));
    await Promise.all(this.instances.flatMap((i) => [i.registryProxy.close(), i.redisProxy.close()]));
    await this.redis.stop();
    await this.broker.stop();
  }
}
