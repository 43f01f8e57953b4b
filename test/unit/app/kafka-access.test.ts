import { KAFKA_PRINCIPAL_ROLES, KEY_CACHE_GROUP_PREFIX, kafkaAccess, principalName, READ_TO_END_GROUP_PREFIX, type AccessRole } from '../../../app/kafka-access';
import { aclEntries, allows, type Grant } from '../../../infra/kafka/acls';
import { allTopicSpecs } from '../../../infra/kafka/topics';
import { DATA_KEYS_TOPIC, DEAD_LETTER_ACTIONS_TOPIC, dlqTopicName, paymentTopicName, topicCatalog, topicName, type TopicAggregate } from '../../../schemas/topics';

const catalog = topicCatalog();
const access = kafkaAccess(catalog);
const topics = allTopicSpecs(catalog);
const COMPOSITES: readonly AccessRole[] = ['all', 'commands', 'projectors', 'process-managers'];
const separate = KAFKA_PRINCIPAL_ROLES.filter((r) => !COMPOSITES.includes(r));
const writable = (role: AccessRole): string[] => topics.filter((t) => allows(access[role], 'topic', t.name, 'WRITE')).map((t) => t.name).sort();
const writersOf = (name: string): AccessRole[] => separate.filter((r) => allows(access[r], 'topic', name, 'WRITE'));

describe('the Kafka ACL catalog', () => {
  it('only the command processor writes the events and snapshots of aggregates that take commands', () => {
    for (const t of catalog.topics.filter((x) => x.role === 'commands')) {
      const aggregate = t.aggregate as TopicAggregate;
      expect(writersOf(topicName(aggregate, 'events'))).toEqual(['command-processor']);
      expect(writersOf(topicName(aggregate, 'snapshots'))).toEqual(['command-processor']);
    }
  });

  it('the other events topics have their one documented writer each', () => {
    // Payment requests and the provider's answers: one topic per writer, each read only by the other side.
    expect(writersOf(paymentTopicName('requests'))).toEqual(['process-manager:order-fulfilment']);
    expect(writersOf(paymentTopicName('results'))).toEqual(['payment-simulator']);
    const readersOf = (name: string): AccessRole[] => separate.filter((r) => allows(access[r], 'topic', name, 'READ'));
    expect(readersOf(paymentTopicName('requests'))).toEqual(['payment-simulator']);
    expect(readersOf(paymentTopicName('results'))).toEqual(['process-manager:order-fulfilment']);
    expect(writersOf(topicName('loyalty', 'events'))).toEqual(['loyalty']);
    for (const t of catalog.topics.filter((x) => x.role === 'changelog')) expect(writersOf(t.name)).toEqual([t.processManager === 'order-fulfilment' ? 'process-manager:order-fulfilment' : t.processManager]);
  });

  it('the gateway writes commands topics and the data keys (docs/privacy.md), nothing else', () => {
    expect(writable('gateway')).toEqual([...catalog.topics.filter((t) => t.role === 'commands').map((t) => t.name), DATA_KEYS_TOPIC].sort());
  });

  it('a projector writes only the dead-letter topics of the events it reads', () => {
    expect(writable('projector:menu')).toEqual([dlqTopicName(topicName('menu', 'events'))]);
    expect(writable('projector:customers')).toEqual([dlqTopicName(topicName('customer', 'events'))]);
    for (const model of ['orders', 'kitchen', 'sales'] as const) expect(writable(`projector:${model}`)).toEqual([dlqTopicName(topicName('order', 'events'))]);
  });

  it('topics:apply reads and writes no records; the query API reads only the data keys', () => {
    for (const role of ['query', 'topics-apply'] as const) expect(writable(role)).toEqual([]);
    expect(topics.filter((t) => allows(access['topics-apply'], 'topic', t.name, 'READ'))).toEqual([]);
    expect(access['topics-apply'].filter((g) => g.resource !== 'topic')).toEqual([]);
    expect(topics.filter((t) => allows(access.query, 'topic', t.name, 'READ')).map((t) => t.name)).toEqual([DATA_KEYS_TOPIC]);
    expect(access.query.filter((g) => g.resource !== 'topic')).toEqual([{ resource: 'group', name: KEY_CACHE_GROUP_PREFIX, pattern: 'prefixed', operations: ['READ'] }]);
  });

  it('the admin API writes only the dead-letter action records and the parking requests (the process managers\' parked topics, the commands topics), and reads only the actions and the parked topics', () => {
    const parked = topics.filter((t) => t.role === 'parked').map((t) => t.name);
    expect(parked).toHaveLength(3 + 4);
    const pmParked = topics.filter((t) => t.role === 'parked' && t.aggregate === null).map((t) => t.name);
    const commands = topics.filter((t) => t.role === 'commands').map((t) => t.name);
    expect(writable('admin-api')).toEqual([DEAD_LETTER_ACTIONS_TOPIC, ...pmParked, ...commands].sort());
    // The process managers and the command processor record the actions they decide (a redrive, a skip) in their own transactions.
    expect(writersOf(DEAD_LETTER_ACTIONS_TOPIC)).toEqual(['command-processor', 'admin-api', 'process-manager:order-fulfilment', 'loyalty', 'payment-simulator']);
    expect(topics.filter((t) => allows(access['admin-api'], 'topic', t.name, 'READ')).map((t) => t.name)).toEqual([DEAD_LETTER_ACTIONS_TOPIC, ...parked].sort());
    // Reading to the end (throwaway groups), no consumer group of its own.
    expect(access['admin-api'].filter((g) => g.resource !== 'topic')).toEqual([{ resource: 'group', name: READ_TO_END_GROUP_PREFIX, pattern: 'prefixed', operations: ['DELETE', 'READ'] }]);
    // `all` runs the process managers, which record the redrives and skips they decide.
    expect(allows(access.all, 'topic', DEAD_LETTER_ACTIONS_TOPIC, 'WRITE')).toBe(true);
  });

  it('only topics:apply may create topics', () => {
    for (const role of KAFKA_PRINCIPAL_ROLES.filter((r) => r !== 'topics-apply' && !COMPOSITES.includes(r))) {
      expect(topics.filter((t) => allows(access[role], 'topic', t.name, 'CREATE'))).toEqual([]);
    }
    expect(topics.every((t) => allows(access['topics-apply'], 'topic', t.name, 'CREATE'))).toBe(true);
  });

  it('every role can verify every catalog topic at start-up (describe partitions and configs)', () => {
    for (const role of KAFKA_PRINCIPAL_ROLES) {
      for (const t of topics) {
        expect([role, t.name, allows(access[role], 'topic', t.name, 'DESCRIBE') && allows(access[role], 'topic', t.name, 'DESCRIBE_CONFIGS')]).toEqual([role, t.name, true]);
      }
    }
  });

  it('no role may join another role’s consumer group (the read-to-end restores share one prefix of random names)', () => {
    const groups = (role: AccessRole): Grant[] => access[role].filter((g) => g.resource === 'group' && g.name !== READ_TO_END_GROUP_PREFIX);
    const named: Record<string, string> = {
      gateway: 'restaurant.gateway.replies.x',
      'command-processor': 'restaurant.command-processor',
      'projector:menu': 'restaurant.projection.menu',
      'projector:orders': 'restaurant.projection.orders.live-g2',
      'process-manager:order-fulfilment': 'restaurant.process-manager.order-fulfilment',
      loyalty: 'restaurant.loyalty',
      'payment-simulator': 'restaurant.payment-simulator',
    };
    for (const [owner, group] of Object.entries(named)) {
      const joiners = separate.filter((r) => allows(groups(r), 'group', group, 'READ') && r !== 'replay');
      expect([group, joiners]).toEqual([group, [owner]]);
    }
    expect(allows(access['projector:menu'], 'group', 'restaurant.projection.menus', 'READ')).toBe(false);
  });

  it('transactional ids: only the command processor and the process managers, each in its own prefix', () => {
    const txn = (role: AccessRole): string[] => access[role].filter((g) => g.resource === 'transactional-id').map((g) => g.name);
    expect(separate.filter((r) => txn(r).length > 0)).toEqual(['command-processor', 'process-manager:order-fulfilment', 'loyalty', 'payment-simulator']);
    expect(allows(access['command-processor'], 'transactional-id', 'restaurant.command-processor.p3', 'WRITE')).toBe(true);
    expect(allows(access.loyalty, 'transactional-id', 'restaurant.command-processor.p3', 'WRITE')).toBe(false);
    expect(allows(access['command-processor'], 'transactional-id', 'restaurant.loyalty.3', 'WRITE')).toBe(false);
  });

  it('a composite role is the union of its parts', () => {
    const parts: Record<string, AccessRole[]> = { commands: ['gateway', 'command-processor'], 'process-managers': ['process-manager:order-fulfilment', 'loyalty'] };
    for (const [composite, of] of Object.entries(parts)) {
      for (const t of topics) expect(allows(access[composite as AccessRole], 'topic', t.name, 'WRITE')).toBe(of.some((r) => allows(access[r], 'topic', t.name, 'WRITE')));
    }
    expect(writable('projectors')).toEqual([...new Set(['menu', 'customer', 'order'].map((a) => dlqTopicName(topicName(a as 'menu', 'events'))))].sort());
  });

  it('principal names are SASL-safe and distinct; bindings are one per operation', () => {
    const names = KAFKA_PRINCIPAL_ROLES.map(principalName);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^[a-z][a-z.-]*$/);
    const entries = aclEntries('User:gateway', access.gateway);
    expect(entries.length).toBe(access.gateway.reduce((n, g) => n + g.operations.length, 0));
    expect(new Set(entries.map((e) => JSON.stringify(e))).size).toBe(entries.length);
  });
});
