// Creates or verifies every topic of the catalog (schemas/topics.ts). Idempotent:
// a topic that exists with the declared partitions and configs is left alone; one
// whose partitions or configs drifted is reported with what differs and is not
// "fixed" behind anyone's back (fewer partitions would move aggregates between
// partitions; a wrong cleanup policy could already have deleted history).
import { ConfigResourceTypes, type Admin } from 'kafkajs';
import { dlqTopic, topicCatalog, type TopicCatalog, type TopicSpec } from '../../schemas/topics';
import { config } from '../config';
import type { AvroCodec } from './codec';

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

/** The catalog's topics plus a dead-letter topic for every topic a consumer group reads (commands and events). */
export function allTopicSpecs(catalog: TopicCatalog = topicCatalog({ partitions: config().topics.partitions })): TopicSpec[] {
  const consumed = catalog.topics.filter((t) => t.role === 'commands' || t.role === 'events');
  return [...catalog.topics, ...consumed.map(dlqTopic)];
}

export async function applyTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<ApplyResult> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.name));
  const present = specs.filter((s) => existing.has(s.name));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((s) => ({
        topic: s.name,
        numPartitions: s.partitions,
        replicationFactor: s.replicationFactor,
        configEntries: Object.entries(s.configs).map(([name, value]) => ({ name, value })),
      })),
    });
  }
  const drift: TopicDrift[] = [];
  if (present.length > 0) {
    const metadata = await admin.fetchTopicMetadata({ topics: present.map((s) => s.name) });
    const partitions = new Map(metadata.topics.map((t) => [t.name, t.partitions.length]));
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map((s) => ({ type: ConfigResourceTypes.TOPIC, name: s.name })),
    });
    const configs = new Map(
      described.resources.map((r) => [r.resourceName, new Map(r.configEntries.map((e) => [e.configName, e.configValue]))]),
    );
    for (const spec of present) {
      const differences: string[] = [];
      const actualPartitions = partitions.get(spec.name);
      if (actualPartitions !== spec.partitions) {
        differences.push(`partitions: declared ${spec.partitions}, broker has ${actualPartitions}`);
      }
      const actual = configs.get(spec.name) ?? new Map<string, string>();
      for (const [name, value] of Object.entries(spec.configs)) {
        if (actual.get(name) !== value) differences.push(`${name}: declared ${value}, broker has ${actual.get(name) ?? '(unset)'}`);
      }
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
