// The Kafka a chaos run owns: one broker (own-kafka.ts; the registry is the
// local stack's) or a three-node KRaft cluster (own-cluster.ts, with a registry
// of its own), and the broker faults each can take.
import type { Kafka } from 'kafkajs';
import { config } from '../../infra/config';
import { eventsTopics } from './log-reader';
import { startTestCluster, type TestCluster } from './own-cluster';
import { ownKafka, type OwnKafka } from './own-kafka';
import { readReplicas, replicaFigures, type ReplicaFigures } from './replica-view';

export interface KafkaUnderTest {
  readonly kind: 'single' | 'cluster';
  /** What a role needs to use it: KAFKA_BROKERS. */
  readonly env: Readonly<Record<string, string>>;
  readonly registryUrl: string;
  readonly description: string;
  kafka(clientId: string): Kafka;
  /** kill -9 of a node (the broker, on one), down for downMs, then started again; resolves once it is healthy. Returns the node (and, on a cluster, its partitions' replicas). */
  killAndRestart(which: 'busiest-leader' | 'controller' | 'any', downMs: number): Promise<{ readonly node: string; readonly replicas?: ReplicaFigures }>;
  stop(): Promise<void>;
}

/** min.insync.replicas of the cluster's topics (docs/cluster.md). */
const MIN_IN_SYNC = 2;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function singleBroker(): Promise<KafkaUnderTest> {
  const broker: OwnKafka = await ownKafka();
  await broker.start(120_000);
  return {
    kind: 'single',
    env: broker.env,
    registryUrl: config().registry.url,
    description: `one broker of the run's own on ${broker.bootstrap}`,
    kafka: (clientId) => broker.kafka(clientId),
    async killAndRestart(_which, downMs) {
      await broker.kill();
      await sleep(downMs);
      await broker.start(120_000);
      return { node: 'the broker' };
    },
    stop: () => broker.stop(),
  };
}

/** The node leading the partitions with the most records of the events and commands topics. */
async function busiestLeader(cluster: TestCluster): Promise<number> {
  const admin = cluster.kafka('chaos.leaders').admin();
  await admin.connect();
  try {
    const weight = new Map<number, number>();
    const topics = [...eventsTopics(), ...eventsTopics().map((t) => t.replace(/\.events$/, '.commands'))];
    const existing = new Set(await admin.listTopics());
    const { topics: metadata } = await admin.fetchTopicMetadata({ topics: topics.filter((t) => existing.has(t)) });
    for (const topic of metadata) {
      const offsets = new Map((await admin.fetchTopicOffsets(topic.name)).map((o) => [o.partition, Number(o.high) - Number(o.low)]));
      for (const p of topic.partitions) weight.set(p.leader, (weight.get(p.leader) ?? 0) + 1 + (offsets.get(p.partitionId) ?? 0));
    }
    const [leader] = [...weight].sort((a, b) => b[1] - a[1])[0] ?? [1];
    return leader;
  } finally {
    await admin.disconnect();
  }
}

/** `portOffset` moves the cluster's ports above the caller's (KAFKA_PORT, KAFKA_CONTROLLER_PORT, REGISTRY_PORT), clear of their stack. */
export async function threeNodes(portOffset: number, say: (line: string) => void): Promise<KafkaUnderTest> {
  const cluster = await startTestCluster(portOffset, say);
  let turn = 0;
  return {
    kind: 'cluster',
    env: { KAFKA_BROKERS: cluster.brokers.join(',') },
    registryUrl: cluster.registryUrl,
    description: `a three-node KRaft cluster of the run's own on ${cluster.brokers.join(',')} (registry ${cluster.registryUrl})`,
    kafka: (clientId) => cluster.kafka(clientId),
    async killAndRestart(which, downMs) {
      const node = which === 'busiest-leader' ? await busiestLeader(cluster) : which === 'controller' ? await cluster.activeController() : (turn++ % 3) + 1;
      const atKill = await readReplicas(cluster.kafka('chaos.replicas'));
      cluster.kill(node);
      const killedAt = Date.now();
      // Read just before the restart: by then the controller has fenced the node (4 s) and moved its leaders.
      await sleep(Math.max(0, downMs - 1_000));
      const whileDown = await readReplicas(cluster.kafka('chaos.replicas'));
      await sleep(Math.max(0, killedAt + downMs - Date.now()));
      await cluster.startNode(node);
      return { node: `node ${node}`, ...(atKill === undefined ? {} : { replicas: replicaFigures(node, atKill, whileDown, MIN_IN_SYNC) }) };
    },
    stop: () => cluster.stop(),
  };
}
