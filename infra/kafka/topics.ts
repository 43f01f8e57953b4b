// Creates or verifies every topic of the catalog (schemas/topics.ts). Idempotent:
// a topic that exists with the declared partitions, replicas and configs is left
// alone; one whose partitions, replication factor or configs (min.insync.replicas
// among them) drifted is reported with what differs and is not "fixed" behind
// anyone's back (fewer partitions would move aggregates between partitions; a
// wrong cleanup policy could already have deleted history; adding replicas is a
// reassignment an operator plans).
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import { dlqTopic, topicCatalog, type TopicCatalog, type TopicSpec } from '../../schemas/topics';
import { config } from '../config';
import type { AvroCodec } from './codec';
import { createTopicsLed } from './create-topics';

export interface TopicDrift {
  readonly topic: string;
  readonly differences: readonly string[];
}

export interface ApplyResult {
  readonly created: readonly string[];
  readonly verified: readonly string[];
  readonly drift: readonly TopicDrift[];
}

export class TopicDriftError extends Error {
  override readonly name = 'TopicDriftError';
  constructor(readonly drift: readonly TopicDrift[]) {
    super(
      `${drift.length} topic(s) differ from the catalog:\n` +
        drift.map((d) => `  ${d.topic}:\n${d.differences.map((x) => `    - ${x}`).join('\n')}`).join('\n'),
    );
  }
}

/** The catalog's topics plus a dead-letter topic for every topic a consumer group reads (commands, events, parked). */
export function allTopicSpecs(catalog: TopicCatalog = topicCatalog({ ...config().topics })): TopicSpec[] {
  // The process managers consume their parked topics too (operators' requests): a request they cannot decode is dead-lettered.
  const consumed = catalog.topics.filter((t) => t.role === 'commands' || t.role === 'events' || (t.role === 'parked' && t.aggregate === null));
  return [...catalog.topics, ...consumed.map(dlqTopic)];
}

/** What the broker has of a topic: the replica count of each partition and the topic's effective configs. */
export interface TopicOnBroker {
  readonly replicasByPartition: readonly number[];
  readonly configs: ReadonlyMap<string, string>;
}

/** How a topic on the broker differs from its declaration, one line each; empty when it matches. */
export function topicDifferences(spec: TopicSpec, actual: TopicOnBroker): string[] {
  const differences: string[] = [];
  const partitions = actual.replicasByPartition.length;
  if (partitions !== spec.partitions) differences.push(`partitions: declared ${spec.partitions}, broker has ${partitions}`);
  const replicas = [...new Set(actual.replicasByPartition)].sort((a, b) => a - b);
  if (replicas.length > 0 && (replicas.length > 1 || replicas[0] !== spec.replicationFactor)) {
    differences.push(`replication factor: declared ${spec.replicationFactor}, broker has ${replicas.join(' or ')}`);
  }
  for (const [name, value] of Object.entries(spec.configs)) {
    const has = actual.configs.get(name);
    if (has !== value) differences.push(`${name}: declared ${value}, broker has ${has ?? '(unset)'}`);
  }
  return differences;
}

export async function applyTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<ApplyResult> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.name));
  const present = specs.filter((s) => existing.has(s.name));
  if (missing.length > 0) {
    // Not kafkajs's own leader wait: it gives up while a broker still says it does not host a partition it was just given (a cluster's followers do).
    await createTopicsLed(
      admin,
      missing.map((s) => ({
        topic: s.name,
        numPartitions: s.partitions,
        replicationFactor: s.replicationFactor,
        configEntries: Object.entries(s.configs).map(([name, value]) => ({ name, value })),
      })),
    );
  }
  const drift: TopicDrift[] = [];
  if (present.length > 0) {
    const metadata = await admin.fetchTopicMetadata({ topics: present.map((s) => s.name) });
    const layout = new Map(metadata.topics.map((t) => [t.name, t.partitions.map((p) => p.replicas.length)]));
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map((s) => ({ type: ConfigResourceTypes.TOPIC, name: s.name })),
    });
    const configs = new Map(
      described.resources.map((r) => [r.resourceName, new Map(r.configEntries.map((e) => [e.configName, e.configValue]))]),
    );
    for (const spec of present) {
      const differences = topicDifferences(spec, { replicasByPartition: layout.get(spec.name) ?? [], configs: configs.get(spec.name) ?? new Map() });
      if (differences.length > 0) drift.push({ topic: spec.name, differences });
    }
  }
  return {
    created: missing.map((s) => s.name),
    verified: present.filter((s) => !drift.some((d) => d.topic === s.name)).map((s) => s.name),
    drift,
  };
}

/** Registers (or confirms) the schema of every subject the topics carry; returns how many. */
export async function registerSubjects(codec: AvroCodec, specs: readonly TopicSpec[]): Promise<number> {
  const subjects = specs.flatMap((t) => t.subjects.map((s) => ({ topic: t.name, recordName: s.recordName })));
  for (const s of subjects) await codec.schemaId(s.topic, s.recordName);
  return subjects.length;
}
