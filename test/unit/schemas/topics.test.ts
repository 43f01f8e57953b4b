import { loadSchemas } from '../../../schemas/loader';
import { eventKey, EventKeyError, murmur2, parseEventKey, partitionFor, toPositive } from '../../../schemas/partitioning';
import { COMMAND_REPLIES_TOPIC, dlqTopic, subjectName, topicCatalog, topicPrefix } from '../../../schemas/topics';

describe('murmur2 matches Java (and kafkajs) on known keys', () => {
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
    ['', 275646681],
  ])('murmur2(%j) = %d', (key, expected) => {
    expect(murmur2(key)).toBe(expected);
    expect(murmur2(Buffer.from(key, 'utf8'))).toBe(expected);
  });
  it('hashes UTF-8 bytes, like Java does for String keys', () => {
    expect(murmur2('café')).toBe(murmur2(Buffer.from([0x63, 0x61, 0x66, 0xc3, 0xa9])));
  });
});

describe('partitionFor', () => {
  it('is toPositive(murmur2(id)) % n', () => {
    expect(partitionFor('foobar', 6)).toBe(toPositive(-790332482) % 6);
    expect(partitionFor('21', 6)).toBe(toPositive(-973932308) % 6);
  });
  it('clears the sign bit rather than taking the absolute value', () => {
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(-1)).toBe(2147483647);
  });
  it('rejects a non-positive partition count', () => {
    expect(() => partitionFor('x', 0)).toThrow(RangeError);
  });
});

describe('event keys', () => {
  it('build and parse <aggregateId>/<version>', () => {
    expect(eventKey('o-1', 12)).toBe('o-1/12');
    expect(parseEventKey('o-1/12')).toEqual({ aggregateId: 'o-1', version: 12 });
  });
  it('allow a slash inside the aggregate id', () => {
    expect(parseEventKey(eventKey('tenant/o-1', 3))).toEqual({ aggregateId: 'tenant/o-1', version: 3 });
  });
  it.each(['o-1', 'o-1/', '/3', 'o-1/0', 'o-1/01', 'o-1/x', 'o-1/-2'])('reject %j', (key) => {
    expect(() => parseEventKey(key)).toThrow(EventKeyError);
  });
  it('refuse to build a key for version 0', () => {
    expect(() => eventKey('o-1', 0)).toThrow(RangeError);
  });
});

describe('topic catalog', () => {
  const catalog = topicCatalog();

  it('declares the topics docs/schemas.md lists', () => {
    expect(catalog.topics.map((t) => t.name)).toEqual([
      'restaurant.command-replies',
      'restaurant.customer.commands',
      'restaurant.customer.commands.parked',
      'restaurant.customer.events',
      'restaurant.customer.snapshots',
      'restaurant.dead-letter-actions',
      'restaurant.email-reservation.commands',
      'restaurant.email-reservation.commands.parked',
      'restaurant.email-reservation.events',
      'restaurant.email-reservation.snapshots',
      'restaurant.loyalty.changelog',
      'restaurant.loyalty.events',
      'restaurant.loyalty.parked',
      'restaurant.menu.commands',
      'restaurant.menu.commands.parked',
      'restaurant.menu.events',
      'restaurant.menu.snapshots',
      'restaurant.order-fulfilment.changelog',
      'restaurant.order-fulfilment.parked',
      'restaurant.order.commands',
      'restaurant.order.commands.parked',
      'restaurant.order.events',
      'restaurant.order.snapshots',
      'restaurant.payment-simulator.changelog',
      'restaurant.payment-simulator.parked',
      'restaurant.payment.requests',
      'restaurant.payment.results',
      'restaurant.privacy.data-keys',
    ]);
  });
  it('uses the right cleanup policy and retention per role', () => {
    expect(catalog.topic('restaurant.order.commands').configs).toMatchObject({ 'cleanup.policy': 'delete', 'retention.ms': '604800000' });
    expect(catalog.topic('restaurant.order.events').configs).toMatchObject({ 'cleanup.policy': 'compact' });
    expect(catalog.topic('restaurant.order.snapshots').configs).toMatchObject({ 'cleanup.policy': 'compact' });
    expect(catalog.topic(COMMAND_REPLIES_TOPIC).configs).toMatchObject({ 'cleanup.policy': 'delete', 'retention.ms': '3600000' });
    expect(catalog.topic('restaurant.order.events').key).toBe('aggregateId/version');
  });
  it('gives every record of an aggregate a TopicRecordNameStrategy subject on its topic', () => {
    const schemas = loadSchemas();
    const events = catalog.topic('restaurant.order.events').subjects.map((s) => s.subject);
    for (const s of schemas.all.filter((x) => x.namespace === 'restaurant.order' && x.kind === 'event')) {
      expect(events).toContain(subjectName('restaurant.order.events', s.fullName));
    }
    expect(events).toContain('restaurant.order.events-restaurant.order.OrderPlaced');
    expect(catalog.topic(COMMAND_REPLIES_TOPIC).subjects).toEqual([
      { subject: 'restaurant.command-replies-restaurant.common.CommandReply', recordName: 'restaurant.common.CommandReply' },
    ]);
  });
  it('splits the payment messages by writer: the requests topic and the results topic, each compacted by <orderId>/<version>', () => {
    const subjectsOf = (name: string) => catalog.topic(name).subjects.map((s) => s.subject);
    expect(subjectsOf('restaurant.payment.requests')).toEqual(['restaurant.payment.requests-restaurant.payment.PaymentRequested', 'restaurant.payment.requests-restaurant.payment.RefundRequested']);
    expect(subjectsOf('restaurant.payment.results')).toEqual([
      'restaurant.payment.results-restaurant.payment.PaymentAuthorized',
      'restaurant.payment.results-restaurant.payment.PaymentDeclined',
      'restaurant.payment.results-restaurant.payment.RefundIssued',
    ]);
    for (const name of ['restaurant.payment.requests', 'restaurant.payment.results']) {
      expect(catalog.topic(name)).toMatchObject({ role: 'events', aggregate: 'payment', key: 'aggregateId/version', partitions: catalog.partitionsByAggregate.payment });
      expect(catalog.topic(name).configs).toMatchObject({ 'cleanup.policy': 'compact' });
    }
    expect(catalog.forAggregate('payment')).toEqual({});
  });
  it('covers every event, command, snapshot and reply record exactly once', () => {
    // The parking records are on every parked topic, and requests on every commands topic too (checked below).
    const onTopics = catalog.topics.flatMap((t) => t.subjects.map((s) => s.recordName).filter((name) => name !== 'restaurant.common.CommandCheckpoint'));
    const parking = ['restaurant.common.ParkedInput', 'restaurant.common.ParkingRequest'];
    expect(onTopics.filter((name) => parking.includes(name))).toHaveLength(parking.length * (3 + 4) + 4);
    const once = [...onTopics.filter((name) => !parking.includes(name)), ...parking].sort();
    const records = loadSchemas().all.filter((s) => s.kind !== 'type' && s.kind !== 'checkpoint').map((s) => s.fullName);
    expect(once).toEqual(records);
  });
  it('gives every process manager a parked topic beside its changelog: compacted, co-partitioned, with the parking records', () => {
    for (const pm of ['order-fulfilment', 'loyalty', 'payment-simulator'] as const) {
      const parked = catalog.parked(pm);
      expect(parked).toMatchObject({ name: `restaurant.${pm}.parked`, role: 'parked', processManager: pm, partitions: catalog.changelog(pm).partitions, key: 'processId@position' });
      expect(parked.configs).toMatchObject({ 'cleanup.policy': 'compact' });
      expect(parked.subjects.map((s) => s.recordName)).toEqual(['restaurant.common.ParkedInput', 'restaurant.common.ParkingRequest']);
    }
  });
  it('gives every commands topic a parked topic (compacted, co-partitioned, with the parking records) and takes parking requests on the commands topic', () => {
    const commands = catalog.topics.filter((t) => t.role === 'commands');
    expect(commands).toHaveLength(4);
    for (const t of commands) {
      const parked = catalog.topic(`${t.name}.parked`);
      expect(parked).toMatchObject({ role: 'parked', aggregate: t.aggregate, partitions: t.partitions, key: 'processId@position' });
      expect(parked.configs).toMatchObject({ 'cleanup.policy': 'compact' });
      expect(parked.subjects.map((s) => s.recordName)).toEqual(['restaurant.common.ParkedInput', 'restaurant.common.ParkingRequest']);
      expect(t.subjects.map((s) => s.recordName)).toContain('restaurant.common.ParkingRequest');
    }
  });
  it("registers the checkpoint on every snapshots topic (the command processor's) and changelog (a runtime's with positions in it), and only there", () => {
    const withCheckpoint = catalog.topics.filter((t) => t.subjects.some((s) => s.recordName === 'restaurant.common.CommandCheckpoint')).map((t) => t.name);
    expect(withCheckpoint).toEqual(catalog.topics.filter((t) => t.role === 'snapshots' || t.role === 'changelog').map((t) => t.name));
    expect(withCheckpoint).toHaveLength(7);
    expect(catalog.topic('restaurant.order.snapshots').subjects.map((s) => s.subject)).toContain('restaurant.order.snapshots-restaurant.common.CommandCheckpoint');
  });
  it('keeps one partition count per aggregate, overridable', () => {
    const custom = topicCatalog({ partitions: 3, partitionsByAggregate: { order: 12 } });
    const order = custom.forAggregate('order');
    expect([order.commands?.partitions, order.events?.partitions, order.snapshots?.partitions]).toEqual([12, 12, 12]);
    expect(custom.forAggregate('menu').events?.partitions).toBe(3);
    expect(() => topicCatalog({ partitions: 0 })).toThrow(RangeError);
  });
  it('gives each process manager a compacted changelog keyed by process id, partitioned like the aggregate that keys it', () => {
    const changelog = catalog.changelog('order-fulfilment');
    expect(changelog).toMatchObject({ name: 'restaurant.order-fulfilment.changelog', role: 'changelog', aggregate: null, processManager: 'order-fulfilment', key: 'processId' });
    expect(changelog.configs['cleanup.policy']).toBe('compact');
    expect(changelog.subjects).toEqual([
      {
        subject: 'restaurant.order-fulfilment.changelog-restaurant.fulfilment.OrderFulfilmentState',
        recordName: 'restaurant.fulfilment.OrderFulfilmentState',
      },
      {
        subject: 'restaurant.order-fulfilment.changelog-restaurant.common.CommandCheckpoint',
        recordName: 'restaurant.common.CommandCheckpoint',
      },
    ]);
    expect(topicCatalog({ partitions: 3, partitionsByAggregate: { order: 12 } }).changelog('order-fulfilment').partitions).toBe(12);
  });
  it('derives dead-letter topics', () => {
    const dlq = dlqTopic(catalog.topic('restaurant.order.events'));
    expect(dlq).toMatchObject({ name: 'restaurant.order.events.dlq', role: 'dlq', partitions: 6, subjects: [] });
    expect(dlq.configs['cleanup.policy']).toBe('delete');
  });
});

describe('TOPIC_PREFIX: a topic set of its own', () => {
  it('defaults to restaurant, so the topic names stay what they are', () => {
    expect(topicPrefix(undefined)).toBe('restaurant');
    expect(topicPrefix('')).toBe('restaurant');
  });
  it('takes a prefix made of topic-name characters', () => {
    expect(topicPrefix('bench-state')).toBe('bench-state');
    expect(topicPrefix('team_a.v2')).toBe('team_a.v2');
  });
  it.each(['has space', 'slash/', 'colon:', '.starts-with-dot', 'x'.repeat(102)])('refuses %j', (raw) => {
    expect(() => topicPrefix(raw)).toThrow(/TOPIC_PREFIX/);
  });
});
