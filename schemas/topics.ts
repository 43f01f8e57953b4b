// The topic catalog (docs/schemas.md), declared once in code: names, partitions,
// Kafka configs and the schema-registry subjects of the records each topic
// carries. Record types are taken from the schema loader (by namespace and
// kind), so a new event type lands in the catalog without anyone listing it.
import { loadSchemas, type SchemaKind, type SchemaSet } from './loader';

export const AGGREGATES = ['customer', 'menu', 'order', 'email-reservation', 'payment', 'loyalty'] as const;
export type AggregateName = (typeof AGGREGATES)[number];

/** Avro namespace of each aggregate's records. */
export const AGGREGATE_NAMESPACES: Readonly<Record<AggregateName, string>> = {
  customer: 'restaurant.customer',
  menu: 'restaurant.menu',
  order: 'restaurant.order',
  'email-reservation': 'restaurant.email',
  payment: 'restaurant.payment',
  loyalty: 'restaurant.loyalty',
};

/**
 * Stateful consumers run by the process-manager runtime (docs/process-managers.md): the
 * order-fulfilment process manager, the loyalty policy (choreography) and the
 * payment provider's simulator. Each keeps its state in a compacted changelog
 * topic. Their state records (`*State`) live in their own namespace;
 * the changelog shares the partition count of the aggregate whose id keys the
 * process, so a process, its inputs and its changelog share a partition number.
 */
export const PROCESS_MANAGERS = ['order-fulfilment', 'loyalty', 'payment-simulator'] as const;
export type ProcessManagerName = (typeof PROCESS_MANAGERS)[number];

export interface ProcessManagerSpec {
  /** Avro namespace of the process manager's state record(s). */
  readonly namespace: string;
  /** The aggregate whose id is the process key (and whose partition count the changelog takes). */
  readonly keyedBy: AggregateName;
}

export const PROCESS_MANAGER_SPECS: Readonly<Record<ProcessManagerName, ProcessManagerSpec>> = {
  'order-fulfilment': { namespace: 'restaurant.fulfilment', keyedBy: 'order' },
  // Choreography: points for delivered orders, state per order.
  loyalty: { namespace: 'restaurant.loyalty', keyedBy: 'order' },
  // The stand-in for the external payment provider: answers it has scheduled, per order's payment stream.
  'payment-simulator': { namespace: 'restaurant.simulator', keyedBy: 'payment' },
};

/**
 * The first part of every topic's name (TOPIC_PREFIX, default `restaurant`):
 * another prefix gives a whole topic set of its own on the same cluster, which
 * nothing else reads or writes (`npm run bench:state` runs the command side on
 * `bench-state.*`, docs/scaling.md). Record names (Avro namespaces) do not change.
 */
export const TOPIC_PREFIX = topicPrefix(process.env.TOPIC_PREFIX);

export function topicPrefix(raw: string | undefined): string {
  if (raw === undefined || raw === '') return 'restaurant';
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,100}$/.test(raw)) throw new RangeError(`TOPIC_PREFIX=${JSON.stringify(raw)} is not a topic-name prefix (letters, digits, '.', '_', '-')`);
  return raw;
}

/**
 * The payment provider's messages for an order, in two topics with one writer
 * each (docs/process-managers.md): order fulfilment writes the requests, the
 * provider (or its simulator) the results. Each writer numbers its own stream
 * per order (aggregateId = orderId, key `<orderId>/<version>`, versions 1..n),
 * as any aggregate's single writer does, without reading the other's position.
 */
export const PAYMENT_STREAMS = {
  requests: ['PaymentRequested', 'RefundRequested'],
  results: ['PaymentAuthorized', 'PaymentDeclined', 'RefundIssued'],
} as const;
export type PaymentStream = keyof typeof PAYMENT_STREAMS;

export function paymentTopicName(stream: PaymentStream): string {
  return `${TOPIC_PREFIX}.payment.${stream}`;
}

export const COMMAND_REPLIES_TOPIC = `${TOPIC_PREFIX}.command-replies`;
/** Operators' redrives and skips of parked events (`npm run dlq`), keyed by aggregate id: who, when, why. */
export const DEAD_LETTER_ACTIONS_TOPIC = `${TOPIC_PREFIX}.dead-letter-actions`;
/**
 * Customers' data keys, wrapped with the master key (docs/privacy.md): JSON
 * records, not Avro, keyed `<customerId>/<keyId>` and partitioned by customer
 * id; a tombstone destroys a key (crypto-shredding).
 */
export const DATA_KEYS_TOPIC = `${TOPIC_PREFIX}.privacy.data-keys`;
export const DEFAULT_PARTITIONS = 6;

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

export type TopicRole = 'commands' | 'events' | 'snapshots' | 'changelog' | 'parked' | 'command-replies' | 'dlq' | 'audit' | 'data-keys';
export type KeyFormat = 'aggregateId' | 'aggregateId/version' | 'processId' | 'processId@position' | 'commandId' | 'original key' | 'customerId/keyId';

export interface SubjectSpec {
  /** TopicRecordNameStrategy: `<topic>-<namespace.Name>`. */
  readonly subject: string;
  readonly recordName: string;
}

export interface TopicSpec {
  readonly name: string;
  readonly role: TopicRole;
  readonly aggregate: AggregateName | null;
  /** For a changelog: the process manager whose state it holds. */
  readonly processManager?: ProcessManagerName;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly key: KeyFormat;
  /** Kafka topic configs, as strings, ready for createTopics/alterConfigs. */
  readonly configs: Readonly<Record<string, string>>;
  /** Schema-registry subjects of the record types written to this topic (empty for a DLQ: raw bytes). */
  readonly subjects: readonly SubjectSpec[];
}

export interface TopicCatalogOptions {
  /** Partitions of every aggregate's topics and of the reply topic (default 6). */
  readonly partitions?: number;
  /** Per-aggregate override; all topics of one aggregate always share one count. */
  readonly partitionsByAggregate?: Partial<Record<AggregateName, number>>;
  /** Replicas of every topic (default 1: one broker). */
  readonly replicationFactor?: number;
  /** `min.insync.replicas` of every topic (default 1): with acks=all, how many replicas must have a write before it is acknowledged. */
  readonly minInsyncReplicas?: number;
  /** Schemas to derive subjects from; defaults to the project's. */
  readonly schemas?: SchemaSet;
}

export interface TopicCatalog {
  /** Every topic (without DLQs, which are created per consuming topic), sorted by name. */
  readonly topics: readonly TopicSpec[];
  topic(name: string): TopicSpec;
  /** The topics of one aggregate, by role. Payment has none of these: its messages are in paymentTopicName's two topics. */
  forAggregate(aggregate: AggregateName): Readonly<Partial<Record<'commands' | 'events' | 'snapshots', TopicSpec>>>;
  /** The changelog topic of a process manager. */
  changelog(processManager: ProcessManagerName): TopicSpec;
  /** The parked-inputs topic of a process manager (docs/stateful-runtime.md "Parking"). */
  parked(processManager: ProcessManagerName): TopicSpec;
  readonly partitionsByAggregate: Readonly<Record<AggregateName, number>>;
}

export function subjectName(topic: string, recordFullName: string): string {
  return `${topic}-${recordFullName}`;
}

/** The aggregates with topics of their own by role; the payment provider's messages are in paymentTopicName's topics. */
export type TopicAggregate = Exclude<AggregateName, 'payment'>;

/** An aggregate's commands, events or snapshots topic. */
export function topicName(aggregate: TopicAggregate, role: 'commands' | 'events' | 'snapshots'): string {
  return `${TOPIC_PREFIX}.${aggregate}.${role}`;
}

export function changelogTopicName(processManager: ProcessManagerName): string {
  return `${TOPIC_PREFIX}.${processManager}.changelog`;
}

/**
 * The parked inputs of a stateful runtime, beside its changelog: compacted,
 * co-partitioned with it, written in the runtime's transactions
 * (docs/stateful-runtime.md "Parking").
 */
export function parkedTopicName(changelog: string): string {
  return changelog.replace(/\.changelog$/, '') + '.parked';
}

/**
 * The parked commands of an aggregate, beside its commands topic: compacted,
 * co-partitioned with it, written in the command processor's transactions
 * (docs/command-side.md "Parked aggregates").
 */
export function parkedCommandsTopicName(commands: string): string {
  return `${commands}.parked`;
}

/** The command processor's parked aggregates of one type, as the dead-letter tools name them (`npm run dlq --model order-commands`). */
export type CommandParkingName = `${AggregateName}-commands`;
export const commandParkingName = (aggregate: AggregateName): CommandParkingName => `${aggregate}-commands`;
/** The command parkings of the aggregate types that have a commands topic. */
export const commandParkings = (catalog: Pick<TopicCatalog, 'topics'> = topicCatalog()): CommandParkingName[] =>
  catalog.topics.filter((t) => t.role === 'commands' && t.aggregate !== null).map((t) => commandParkingName(t.aggregate as AggregateName));
/** The aggregate type of a command parking's name; undefined for a name that is none. */
export const aggregateOfCommandParking = (name: string): AggregateName | undefined => AGGREGATES.find((a) => commandParkingName(a) === name);

export function dlqTopicName(topic: string): string {
  return `${topic}.dlq`;
}

const CONFIGS: Readonly<Record<TopicRole, Readonly<Record<string, string>>>> = {
  // Intent is only interesting until processed; a week covers long outages.
  commands: { 'cleanup.policy': 'delete', 'retention.ms': String(7 * DAY_MS) },
  // Keyed <aggregateId>/<version>: compaction never drops an event, only exact
  // re-writes of one version and tombstones (right to be forgotten).
  events: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': String(DAY_MS), 'delete.retention.ms': String(DAY_MS) },
  // Only the latest state per aggregate matters.
  // Hourly segments: the active segment is never compacted, so without a roll a
  // restore (and the gateway's menu view) would read every snapshot ever written.
  snapshots: {
    'cleanup.policy': 'compact',
    'min.compaction.lag.ms': '0',
    'delete.retention.ms': String(DAY_MS),
    'min.cleanable.dirty.ratio': '0.1',
    'segment.ms': String(HOUR_MS),
  },
  // Latest state per process, restored on assignment; a tombstone forgets a finished one.
  changelog: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0', 'delete.retention.ms': String(DAY_MS), 'min.cleanable.dirty.ratio': '0.1' },
  // Parked inputs until redriven or skipped (a tombstone ends each); small, read whole on assignment.
  parked: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0', 'delete.retention.ms': String(DAY_MS), 'min.cleanable.dirty.ratio': '0.1' },
  'command-replies': { 'cleanup.policy': 'delete', 'retention.ms': String(HOUR_MS) },
  // Kept long enough for a person to look, fix and replay.
  dlq: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS) },
  // An audit trail: every action kept (not compacted) for a year.
  audit: { 'cleanup.policy': 'delete', 'retention.ms': String(365 * DAY_MS) },
  // A destroyed key must leave the disk soon: segments roll hourly and are compacted
  // within the hour after (max.compaction.lag.ms), tombstones themselves kept a day.
  'data-keys': {
    'cleanup.policy': 'compact',
    'min.compaction.lag.ms': '0',
    'max.compaction.lag.ms': String(HOUR_MS),
    'delete.retention.ms': String(DAY_MS),
    'min.cleanable.dirty.ratio': '0.01',
    'segment.ms': String(HOUR_MS),
  },
};

const KEYS: Readonly<Record<TopicRole, KeyFormat>> = {
  commands: 'aggregateId',
  events: 'aggregateId/version',
  snapshots: 'aggregateId',
  changelog: 'processId',
  parked: 'processId@position',
  'command-replies': 'commandId',
  dlq: 'original key',
  audit: 'aggregateId',
  'data-keys': 'customerId/keyId',
};

const ROLE_KINDS: ReadonlyArray<readonly ['commands' | 'events' | 'snapshots', SchemaKind]> = [
  ['commands', 'command'],
  ['events', 'event'],
  ['snapshots', 'snapshot'],
];

function checkReplication(label: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${label} must be a positive integer, got ${n}`);
  return n;
}

function checkPartitions(label: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${label}: partitions must be a positive integer, got ${n}`);
  return n;
}

export function topicCatalog(options: TopicCatalogOptions = {}): TopicCatalog {
  const schemas = options.schemas ?? loadSchemas();
  const replicationFactor = checkReplication('replicationFactor', options.replicationFactor ?? 1);
  const minInsyncReplicas = checkReplication('minInsyncReplicas', options.minInsyncReplicas ?? 1);
  if (minInsyncReplicas > replicationFactor) {
    throw new RangeError(`minInsyncReplicas ${minInsyncReplicas} is more than the ${replicationFactor} replicas: no acks=all write could succeed`);
  }
  const configsOf = (role: TopicRole): Readonly<Record<string, string>> => ({ ...CONFIGS[role], 'min.insync.replicas': String(minInsyncReplicas) });
  const base = checkPartitions('default', options.partitions ?? DEFAULT_PARTITIONS);
  const partitionsByAggregate = Object.fromEntries(
    AGGREGATES.map((a) => [a, checkPartitions(a, options.partitionsByAggregate?.[a] ?? base)]),
  ) as Record<AggregateName, number>;

  const topics: TopicSpec[] = [];
  const byAggregate = new Map<AggregateName, Partial<Record<'commands' | 'events' | 'snapshots', TopicSpec>>>();
  const covered = new Set<string>();

  // The command processor's position travels in each snapshot partition (CommandCheckpoint), a stateful runtime's in its changelog when its definition says so.
  const checkpoints = schemas.ofKind('checkpoint');
  checkpoints.forEach((r) => covered.add(r.fullName));
  const eventTopic = (name: string, aggregate: AggregateName, records: readonly { readonly fullName: string }[]): TopicSpec => ({
    name,
    role: 'events',
    aggregate,
    partitions: partitionsByAggregate[aggregate],
    replicationFactor,
    key: KEYS.events,
    configs: configsOf('events'),
    subjects: records.map((r) => ({ subject: subjectName(name, r.fullName), recordName: r.fullName })),
  });
  for (const stream of Object.keys(PAYMENT_STREAMS) as PaymentStream[]) {
    const records = PAYMENT_STREAMS[stream].map((type) => {
      const found = schemas.all.find((s) => s.namespace === AGGREGATE_NAMESPACES.payment && s.name === type && s.kind === 'event');
      if (found === undefined) throw new Error(`the payment ${stream} topic lists ${type}, which is no event record of ${AGGREGATE_NAMESPACES.payment}`);
      return found;
    });
    records.forEach((r) => covered.add(r.fullName));
    topics.push(eventTopic(paymentTopicName(stream), 'payment', records));
  }
  // Parking: a parked topic per commands topic, and operators' requests on the commands topic itself (in order with the commands).
  const parking = schemas.ofKind('parking');
  parking.forEach((r) => covered.add(r.fullName));
  const parkingRequests = parking.filter((r) => r.fullName === 'restaurant.common.ParkingRequest');
  for (const aggregate of AGGREGATES) {
    const namespace = AGGREGATE_NAMESPACES[aggregate];
    const entry: Partial<Record<'commands' | 'events' | 'snapshots', TopicSpec>> = {};
    // Payment: the provider's messages, in the two topics above; a new one not listed there has no topic (below).
    if (aggregate === 'payment') {
      byAggregate.set(aggregate, entry);
      continue;
    }
    for (const [role, kind] of ROLE_KINDS) {
      const own = schemas.all.filter((s) => s.namespace === namespace && s.kind === kind);
      if (own.length === 0) continue; // e.g. loyalty: events only
      const records = role === 'snapshots' ? [...own, ...checkpoints] : role === 'commands' ? [...own, ...parkingRequests] : own;
      const name = topicName(aggregate, role);
      own.forEach((r) => covered.add(r.fullName));
      const spec: TopicSpec = {
        name,
        role,
        aggregate,
        partitions: partitionsByAggregate[aggregate],
        replicationFactor,
        key: KEYS[role],
        configs: configsOf(role),
        subjects: records.map((r) => ({ subject: subjectName(name, r.fullName), recordName: r.fullName })),
      };
      entry[role] = spec;
      topics.push(spec);
      if (role === 'commands') {
        const parked = parkedCommandsTopicName(name);
        topics.push({
          name: parked,
          role: 'parked',
          aggregate,
          partitions: partitionsByAggregate[aggregate],
          replicationFactor,
          key: KEYS.parked,
          configs: configsOf('parked'),
          subjects: parking.map((r) => ({ subject: subjectName(parked, r.fullName), recordName: r.fullName })),
        });
      }
    }
    byAggregate.set(aggregate, entry);
  }

  const changelogs = new Map<ProcessManagerName, TopicSpec>();
  const parkeds = new Map<ProcessManagerName, TopicSpec>();
  for (const processManager of PROCESS_MANAGERS) {
    const { namespace, keyedBy } = PROCESS_MANAGER_SPECS[processManager];
    const records = schemas.all.filter((s) => s.namespace === namespace && s.kind === 'state');
    if (records.length === 0) continue;
    const name = changelogTopicName(processManager);
    records.forEach((r) => covered.add(r.fullName));
    const spec: TopicSpec = {
      name,
      role: 'changelog',
      aggregate: null,
      processManager,
      partitions: partitionsByAggregate[keyedBy],
      replicationFactor,
      key: KEYS.changelog,
      configs: configsOf('changelog'),
      // A definition with its positions in the changelog writes CommandCheckpoints beside its states (docs/stateful-runtime.md "Positions").
      subjects: [...records, ...checkpoints].map((r) => ({ subject: subjectName(name, r.fullName), recordName: r.fullName })),
    };
    changelogs.set(processManager, spec);
    topics.push(spec);
    const parkedSpec: TopicSpec = {
      name: parkedTopicName(name),
      role: 'parked',
      aggregate: null,
      processManager,
      partitions: partitionsByAggregate[keyedBy],
      replicationFactor,
      key: KEYS.parked,
      configs: configsOf('parked'),
      subjects: parking.map((r) => ({ subject: subjectName(parkedTopicName(name), r.fullName), recordName: r.fullName })),
    };
    parkeds.set(processManager, parkedSpec);
    topics.push(parkedSpec);
  }

  const replies = schemas.ofKind('reply');
  replies.forEach((r) => covered.add(r.fullName));
  topics.push({
    name: COMMAND_REPLIES_TOPIC,
    role: 'command-replies',
    aggregate: null,
    partitions: base,
    replicationFactor,
    key: KEYS['command-replies'],
    configs: configsOf('command-replies'),
    subjects: replies.map((r) => ({ subject: subjectName(COMMAND_REPLIES_TOPIC, r.fullName), recordName: r.fullName })),
  });

  const audits = schemas.ofKind('audit');
  audits.forEach((r) => covered.add(r.fullName));
  topics.push({
    name: DEAD_LETTER_ACTIONS_TOPIC,
    role: 'audit',
    aggregate: null,
    partitions: base,
    replicationFactor,
    key: KEYS.audit,
    configs: configsOf('audit'),
    subjects: audits.map((r) => ({ subject: subjectName(DEAD_LETTER_ACTIONS_TOPIC, r.fullName), recordName: r.fullName })),
  });

  topics.push({
    name: DATA_KEYS_TOPIC,
    role: 'data-keys',
    aggregate: null,
    partitions: partitionsByAggregate.customer,
    replicationFactor,
    key: KEYS['data-keys'],
    configs: configsOf('data-keys'),
    subjects: [],
  });

  const homeless = schemas.all.filter((s) => s.kind !== 'type' && !covered.has(s.fullName));
  if (homeless.length > 0) {
    throw new Error(`records with no topic (their namespace is not an aggregate's or a process manager's, or a payment message is in neither PAYMENT_STREAMS list): ${homeless.map((s) => s.fullName).join(', ')}`);
  }

  topics.sort((a, b) => (a.name < b.name ? -1 : 1));
  const byName = new Map(topics.map((t) => [t.name, t] as const));
  return {
    topics,
    partitionsByAggregate,
    topic(name) {
      const found = byName.get(name);
      if (found === undefined) throw new Error(`no topic "${name}" in the catalog`);
      return found;
    },
    forAggregate(aggregate) {
      return byAggregate.get(aggregate) ?? {};
    },
    changelog(processManager) {
      const found = changelogs.get(processManager);
      if (found === undefined) throw new Error(`process manager "${processManager}" has no state record, so no changelog topic`);
      return found;
    },
    parked(processManager) {
      const found = parkeds.get(processManager);
      if (found === undefined) throw new Error(`process manager "${processManager}" has no state record, so no parked topic`);
      return found;
    },
  };
}

/** The dead-letter topic for a consumed topic: same partitions and replication, raw bytes, long retention. */
export function dlqTopic(source: Pick<TopicSpec, 'name' | 'partitions' | 'replicationFactor' | 'configs'>): TopicSpec {
  const minInsync = source.configs['min.insync.replicas'];
  return {
    name: dlqTopicName(source.name),
    role: 'dlq',
    aggregate: null,
    partitions: source.partitions,
    replicationFactor: source.replicationFactor,
    key: KEYS.dlq,
    configs: minInsync === undefined ? CONFIGS.dlq : { ...CONFIGS.dlq, 'min.insync.replicas': minInsync },
    subjects: [],
  };
}
