// The Kafka ACL catalog: for each role (app/roles.ts) and each
// operations tool, exactly the topics, consumer groups and transactional-id
// prefixes it uses, derived from the topic catalog (schemas/topics.ts) and the
// names the runtimes use. `npm run kafka:acls` applies it (as the super user);
// docs/least-privilege.md explains every grant. One SASL principal per entry;
// the composite roles (all, commands, projectors, process-managers) get the
// union of their parts, for running several roles in one process.
import { DEFAULT_GROUP as COMMAND_PROCESSOR_GROUP } from '../producers/command-processor/processor';
import { ORDER_FULFILMENT_GROUP } from '../consumers/process-managers/order-fulfilment/order-fulfilment.process';
import { LOYALTY_GROUP } from '../consumers/loyalty/loyalty.process';
import { PAYMENT_SIMULATOR_GROUP } from '../consumers/payment-simulator/payment-simulator.process';
import { projectionGroupId, READ_MODEL_SPECS } from '../consumers/projections/runtime/read-models';
import { DEFAULT_KEYSPACE, READ_MODELS, type ReadModelName } from '../consumers/projections/shared/keys';
import { changelogTopicName, parkedCommandsTopicName, parkedTopicName, PROCESS_MANAGERS, COMMAND_REPLIES_TOPIC, DATA_KEYS_TOPIC, DEAD_LETTER_ACTIONS_TOPIC, dlqTopicName, paymentTopicName, topicName, type ProcessManagerName, type TopicAggregate, type TopicCatalog } from '../schemas/topics';
import { normalise, userPrincipal, type AclOperation, type Grant } from '../infra/kafka/acls';
import { allTopicSpecs } from '../infra/kafka/topics';
import { principalName, type AccessRole } from '../infra/kafka/principals';

export { KAFKA_PRINCIPAL_ROLES, principalName, type AccessRole } from '../infra/kafka/principals';

/** Group prefixes of the runtimes' throwaway groups (each adds a random suffix). */
export const READ_TO_END_GROUP_PREFIX = 'restaurant.read-to-end.';
export const GATEWAY_REPLIES_GROUP_PREFIX = 'restaurant.gateway.replies.';
export const GATEWAY_MENU_GROUP_PREFIX = 'restaurant.gateway.menu.';
/** The key caches' groups (infra/privacy/key-store.ts) and the gateway's order-owner view (producers/command-bus/kafka-privacy.ts). */
export const KEY_CACHE_GROUP_PREFIX = 'restaurant.privacy.keys.';
export const GATEWAY_ORDER_OWNERS_GROUP_PREFIX = 'restaurant.gateway.order-owners.';
export const FULFILMENT_VIEW_GROUP_PREFIXES = ['restaurant.fulfilment.customers.', 'restaurant.fulfilment.menu.'] as const;

const topic = (name: string, ...operations: AclOperation[]): Grant => ({ resource: 'topic', name, pattern: 'literal', operations });
const group = (name: string, ...operations: AclOperation[]): Grant => ({ resource: 'group', name, pattern: 'literal', operations });
const groupPrefix = (name: string, ...operations: AclOperation[]): Grant => ({ resource: 'group', name, pattern: 'prefixed', operations });
const transactionalIds = (prefix: string): Grant => ({ resource: 'transactional-id', name: prefix, pattern: 'prefixed', operations: ['WRITE', 'DESCRIBE'] });

/** Consumes topics in a group: READ on both (committing and fetching offsets need nothing more). */
const consumes = (groupId: string, topics: readonly string[]): Grant[] => [group(groupId, 'READ'), ...topics.map((t) => topic(t, 'READ'))];

/** readToEnd (infra/kafka/read-to-end.ts): a throwaway group per restore, deleted afterwards. */
const readsToEnd = (topics: readonly string[]): Grant[] => [groupPrefix(READ_TO_END_GROUP_PREFIX, 'READ', 'DELETE'), ...topics.map((t) => topic(t, 'READ'))];

/** Every topic of the system is named restaurant.<...> (schemas/topics.ts). */
export const TOPIC_PREFIX = 'restaurant.';

/**
 * Every role verifies the topic catalog at start-up (app/main.ts:
 * list, describe partitions and configs) and reads watermarks for the lag
 * monitor: DESCRIBE and DESCRIBE_CONFIGS on the system's topics. Metadata
 * only: no records.
 */
const verifiesTopics: Grant = { resource: 'topic', name: TOPIC_PREFIX, pattern: 'prefixed', operations: ['DESCRIBE', 'DESCRIBE_CONFIGS'] };

export type KafkaAccess = Readonly<Record<AccessRole, readonly Grant[]>>;

export function kafkaAccess(catalog: TopicCatalog): KafkaAccess {
  const all = allTopicSpecs(catalog).map((t) => t.name);
  const commandAggregates = catalog.topics.filter((t) => t.role === 'commands').map((t) => t.aggregate as TopicAggregate);
  const commands = commandAggregates.map((a) => topicName(a, 'commands'));
  const events = (a: TopicAggregate): string => topicName(a, 'events');
  const snapshots = (a: TopicAggregate): string => topicName(a, 'snapshots');
  if (all.some((n) => !n.startsWith(TOPIC_PREFIX))) throw new Error(`every topic must start with ${TOPIC_PREFIX}`);
  const base = [verifiesTopics];

  const gateway = [
    ...base,
    ...commands.map((t) => topic(t, 'WRITE')),
    // Replies to its commands, in a group of its own per instance.
    topic(COMMAND_REPLIES_TOPIC, 'READ'),
    groupPrefix(GATEWAY_REPLIES_GROUP_PREFIX, 'READ'),
    // The menu view that prices orders.
    topic(snapshots('menu'), 'READ'),
    groupPrefix(GATEWAY_MENU_GROUP_PREFIX, 'READ'),
    // Seals personal data: reads and writes customers' data keys (docs/privacy.md), and
    // finds an order's customer when staff write its delivery address.
    topic(DATA_KEYS_TOPIC, 'READ', 'WRITE'),
    groupPrefix(KEY_CACHE_GROUP_PREFIX, 'READ'),
    topic(snapshots('order'), 'READ'),
    groupPrefix(GATEWAY_ORDER_OWNERS_GROUP_PREFIX, 'READ'),
  ];

  const commandProcessor = [
    ...base,
    ...consumes(COMMAND_PROCESSOR_GROUP, commands),
    ...commandAggregates.flatMap((a) => [topic(events(a), 'WRITE'), topic(snapshots(a), 'WRITE')]),
    ...readsToEnd(commandAggregates.map(snapshots)),
    topic(COMMAND_REPLIES_TOPIC, 'WRITE'),
    ...commands.map((t) => topic(dlqTopicName(t), 'WRITE')),
    // Parking (producers/command-processor/parking.ts): its parked commands, read whole on assignment and
    // written in its transactions, and the redrives and skips it decides, recorded in the same transactions.
    ...readsToEnd(commands.map(parkedCommandsTopicName)),
    ...commands.map((t) => topic(parkedCommandsTopicName(t), 'WRITE')),
    topic(DEAD_LETTER_ACTIONS_TOPIC, 'WRITE'),
    // <group>.p<partition> (or .p<first>-<last>): one fencing producer per partition group.
    transactionalIds(`${COMMAND_PROCESSOR_GROUP}.p`),
  ];

  const projector = (model: ReadModelName): Grant[] => {
    const inputs = READ_MODEL_SPECS[model].topics;
    const live = projectionGroupId(model, DEFAULT_KEYSPACE);
    return [
      ...base,
      ...inputs.map((t) => topic(t, 'READ')),
      // restaurant.projection.<model>, and restaurant.projection.<model>.<keyspace> for another base or a blue/green keyspace.
      group(live, 'READ'),
      groupPrefix(`${live}.`, 'READ'),
      // Dead letters of what it cannot decode or project: the only thing a projector writes.
      ...inputs.map((t) => topic(dlqTopicName(t), 'WRITE')),
    ];
  };

  const processManager = (name: ProcessManagerName, groupId: string, inputs: readonly string[], outputs: readonly string[], extra: Grant[] = []): Grant[] => [
    ...base,
    // Its parked inputs' topic is an input too (operators' requests), read whole on assignment and written in its transactions.
    ...consumes(groupId, [...inputs, parkedTopicName(changelogTopicName(name))]),
    ...readsToEnd([changelogTopicName(name), parkedTopicName(changelogTopicName(name))]),
    topic(changelogTopicName(name), 'WRITE'),
    topic(parkedTopicName(changelogTopicName(name)), 'WRITE'),
    // A redrive or skip it decides is recorded in the same transaction.
    topic(DEAD_LETTER_ACTIONS_TOPIC, 'WRITE'),
    ...outputs.map((t) => topic(t, 'WRITE')),
    ...[...inputs, parkedTopicName(changelogTopicName(name))].map((t) => topic(dlqTopicName(t), 'WRITE')),
    // <group>.<partition>: one fencing producer per input partition.
    transactionalIds(`${groupId}.`),
    ...extra,
  ];

  // The payment provider's two topics have one writer each: fulfilment writes the requests and reads the results, the provider the other way round.
  const orderFulfilment = processManager('order-fulfilment', ORDER_FULFILMENT_GROUP, [events('order'), paymentTopicName('results')], [topicName('order', 'commands'), paymentTopicName('requests')], [
    // Placement facts: views of the customer and menu snapshots (placement-facts.ts).
    topic(snapshots('customer'), 'READ'),
    topic(snapshots('menu'), 'READ'),
    ...FULFILMENT_VIEW_GROUP_PREFIXES.map((p) => groupPrefix(p, 'READ')),
  ]);
  const loyalty = processManager('loyalty', LOYALTY_GROUP, [events('order')], [events('loyalty')]);
  const paymentSimulator = processManager('payment-simulator', PAYMENT_SIMULATOR_GROUP, [paymentTopicName('requests')], [paymentTopicName('results')]);

  const projectors = Object.fromEntries(READ_MODELS.map((m) => [`projector:${m}`, projector(m)])) as Record<`projector:${ReadModelName}`, Grant[]>;
  const modelInputs = [...new Set(READ_MODELS.flatMap((m) => READ_MODEL_SPECS[m].topics))];
  const separate = {
    gateway,
    'command-processor': commandProcessor,
    ...projectors,
    // The query API reads Redis, and the data keys to open personal fields (docs/privacy.md).
    query: [...base, topic(DATA_KEYS_TOPIC, 'READ'), groupPrefix(KEY_CACHE_GROUP_PREFIX, 'READ')],
    // The admin API (ROLE=admin-api) repairs read models in Redis and records each action: its one Kafka write.
    // For the process managers it reads their parked topics and writes requests there, and reads the actions
    // topic for the outcome the runtime records (throwaway read-to-end groups). Not part of `all`.
    'admin-api': [
      ...base,
      topic(DEAD_LETTER_ACTIONS_TOPIC, 'WRITE'),
      ...readsToEnd([DEAD_LETTER_ACTIONS_TOPIC, ...PROCESS_MANAGERS.map((m) => parkedTopicName(changelogTopicName(m))), ...commands.map(parkedCommandsTopicName)]),
      ...PROCESS_MANAGERS.map((m) => topic(parkedTopicName(changelogTopicName(m)), 'WRITE')),
      // The command processor takes its requests on the commands topics, in order with the commands.
      ...commands.map((t) => topic(t, 'WRITE')),
    ],
    'process-manager:order-fulfilment': orderFulfilment,
    loyalty,
    'payment-simulator': paymentSimulator,
    // npm run topics:apply: creates what is missing (schemas go to the registry over HTTP).
    'topics-apply': all.map((n) => topic(n, 'CREATE', 'DESCRIBE', 'DESCRIBE_CONFIGS')),
    // npm run replay: runs a projector of any read model, moves and deletes the projection groups.
    replay: [
      ...base,
      ...modelInputs.map((t) => topic(t, 'READ')),
      ...modelInputs.map((t) => topic(dlqTopicName(t), 'WRITE')),
      groupPrefix('restaurant.projection.', 'READ', 'DELETE'),
    ],
  } satisfies Record<Exclude<AccessRole, 'all' | 'commands' | 'projectors' | 'process-managers'>, Grant[]>;
  const union = (...parts: ReadonlyArray<readonly Grant[]>): Grant[] => normalise(parts.flat());
  const normalised = Object.fromEntries(Object.entries(separate).map(([role, grants]) => [role, normalise(grants)])) as Record<keyof typeof separate, Grant[]>;
  return Object.freeze({
    ...normalised,
    all: union(gateway, commandProcessor, ...Object.values(projectors), base, orderFulfilment, loyalty, paymentSimulator),
    commands: union(gateway, commandProcessor),
    projectors: union(...Object.values(projectors)),
    'process-managers': union(orderFulfilment, loyalty),
  });
}

/** The catalog as the broker's principals (User:<name>) and their grants, for applyAcls. */
export function kafkaAclPrincipals(access: KafkaAccess): Map<string, readonly Grant[]> {
  return new Map((Object.entries(access) as Array<[AccessRole, readonly Grant[]]>).map(([role, grants]) => [userPrincipal(principalName(role)), grants]));
}
