import { ConfigError, readConfig } from '../../../../infra/config';
import { allTopicSpecs, topicDifferences } from '../../../../infra/kafka/topics';
import { bootstrapServers, kafkaProperties, kafkaServices, serviceStages } from '../../../../infra/stack/services';
import { readStackSettings, replicationDefaults, StackConfigError } from '../../../../infra/stack/settings';
import { topicCatalog, type TopicSpec } from '../../../../schemas/topics';

function parse(text: string): Map<string, string> {
  const props = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    props.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return props;
}

describe('a local stack of STACK_BROKERS nodes', () => {
  it('runs one node by default, on KAFKA_PORT and KAFKA_CONTROLLER_PORT', () => {
    const s = readStackSettings({});
    expect(s.kafka.brokers).toEqual([{ nodeId: 1, port: 9092, controllerPort: 9093 }]);
    expect(kafkaServices(s).map((k) => [k.name, k.logFile.endsWith('/logs/kafka.log')])).toEqual([['kafka', true]]);
  });

  it('puts node n 100·(n−1) ports above the first, each with its own name, log and pid file', () => {
    const s = readStackSettings({ STACK_BROKERS: '3', KAFKA_PORT: '22092', KAFKA_CONTROLLER_PORT: '22093', STACK_HOME: '/tmp/stack-c' });
    expect(s.kafka.brokers).toEqual([
      { nodeId: 1, port: 22092, controllerPort: 22093 },
      { nodeId: 2, port: 22192, controllerPort: 22193 },
      { nodeId: 3, port: 22292, controllerPort: 22293 },
    ]);
    const nodes = kafkaServices(s);
    expect(nodes.map((n) => n.name)).toEqual(['kafka-1', 'kafka-2', 'kafka-3']);
    expect(nodes.map((n) => n.logFile)).toEqual(['/tmp/stack-c/logs/kafka-1.log', '/tmp/stack-c/logs/kafka-2.log', '/tmp/stack-c/logs/kafka-3.log']);
    expect(new Set(nodes.map((n) => n.pidFile)).size).toBe(3);
    expect(nodes[1]?.ports).toEqual([
      { port: 22192, env: 'KAFKA_PORT + 100' },
      { port: 22193, env: 'KAFKA_CONTROLLER_PORT + 100' },
    ]);
    expect(bootstrapServers(s)).toBe('127.0.0.1:22092,127.0.0.1:22192,127.0.0.1:22292');
    // The nodes start together (none is healthy without a quorum), between Redis and the registry.
    expect(serviceStages(s).map((stage) => stage.map((x) => x.name))).toEqual([['redis'], ['kafka-1', 'kafka-2', 'kafka-3'], ['registry']]);
  });

  it.each([['0'], ['10'], ['two'], ['1.5']])('refuses STACK_BROKERS=%s', (value) => {
    expect(() => readStackSettings({ STACK_BROKERS: value })).toThrow(StackConfigError);
    expect(() => readStackSettings({ STACK_BROKERS: value })).toThrow('STACK_BROKERS');
  });

  it('refuses a node whose ports collide with another service or run past 65535', () => {
    expect(() => readStackSettings({ STACK_BROKERS: '3', REGISTRY_PORT: '9192' })).toThrow(/must differ/);
    expect(() => readStackSettings({ STACK_BROKERS: '3', KAFKA_PORT: '65400' })).toThrow(/above port 65535/);
  });

  it('writes each node a server.properties of a three-voter quorum with replicated internal topics', () => {
    const s = readStackSettings({ STACK_BROKERS: '3' });
    const props = parse(kafkaProperties(s, '/data/node-2', undefined, s.kafka.brokers[1]));
    expect(props.get('process.roles')).toBe('broker,controller');
    expect(props.get('node.id')).toBe('2');
    expect(props.get('controller.quorum.voters')).toBe('1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293');
    expect(props.get('listeners')).toBe('PLAINTEXT://127.0.0.1:9192,CONTROLLER://127.0.0.1:9193');
    expect(props.get('advertised.listeners')).toBe('PLAINTEXT://127.0.0.1:9192');
    expect(props.get('log.dirs')).toBe('/data/node-2');
    for (const key of ['default.replication.factor', 'offsets.topic.replication.factor', 'transaction.state.log.replication.factor']) expect({ key, value: props.get(key) }).toEqual({ key, value: '3' });
    for (const key of ['min.insync.replicas', 'transaction.state.log.min.isr']) expect({ key, value: props.get(key) }).toEqual({ key, value: '2' });
  });

  it('fences a node that died without a word within 4 s, so its partitions get new leaders before clients run out of retries', () => {
    const s = readStackSettings({ STACK_BROKERS: '3' });
    const props = parse(kafkaProperties(s, '/data/node-1', undefined, s.kafka.brokers[0]));
    // The controller waits broker.session.timeout.ms (9 s by default) without a heartbeat; kafkajs clients' retries give up after about 6 s.
    expect(Number(props.get('broker.session.timeout.ms'))).toBeLessThanOrEqual(4000);
    expect(Number(props.get('broker.heartbeat.interval.ms')) * 4).toBeLessThanOrEqual(Number(props.get('broker.session.timeout.ms')));
  });

  it('keeps one node as it was: one voter, one replica', () => {
    const props = parse(kafkaProperties(readStackSettings({}), '/data'));
    expect(props.get('node.id')).toBe('1');
    expect(props.get('controller.quorum.voters')).toBe('1@127.0.0.1:9093');
    expect([props.get('offsets.topic.replication.factor'), props.get('transaction.state.log.min.isr'), props.get('min.insync.replicas')]).toEqual(['1', '1', '1']);
  });
});

describe('replication that fits the cluster', () => {
  it.each([
    [1, 1, 1],
    [2, 2, 1],
    [3, 3, 2],
    [5, 3, 2],
  ])('%i broker(s): %i replica(s), min.insync.replicas %i', (brokers, replicationFactor, minInsyncReplicas) => {
    expect(replicationDefaults(brokers)).toEqual({ replicationFactor, minInsyncReplicas });
  });

  it('lists every node of the local stack as the clients’ brokers, and replicates topics 3/2 on three', () => {
    const c = readConfig({ STACK_BROKERS: '3', KAFKA_PORT: '19092', KAFKA_CONTROLLER_PORT: '19093' });
    expect(c.kafka.brokers).toEqual(['127.0.0.1:19092', '127.0.0.1:19192', '127.0.0.1:19292']);
    expect(c.topics).toMatchObject({ replicationFactor: 3, minInsyncReplicas: 2 });
    expect(readConfig({}).topics).toMatchObject({ replicationFactor: 1, minInsyncReplicas: 1 });
  });

  it('follows KAFKA_BROKERS, and TOPIC_REPLICATION_FACTOR / TOPIC_MIN_INSYNC_REPLICAS when set', () => {
    expect(readConfig({ KAFKA_BROKERS: 'a:9092,b:9092,c:9092' }).topics).toMatchObject({ replicationFactor: 3, minInsyncReplicas: 2 });
    expect(readConfig({ KAFKA_BROKERS: 'lb:9092', TOPIC_REPLICATION_FACTOR: '3' }).topics).toMatchObject({ replicationFactor: 3, minInsyncReplicas: 2 });
    expect(readConfig({ STACK_BROKERS: '3', TOPIC_MIN_INSYNC_REPLICAS: '3' }).topics).toMatchObject({ replicationFactor: 3, minInsyncReplicas: 3 });
  });

  it('refuses a min.insync.replicas no write could meet, and nonsense', () => {
    expect(() => readConfig({ TOPIC_MIN_INSYNC_REPLICAS: '2' })).toThrow(ConfigError);
    expect(() => readConfig({ TOPIC_MIN_INSYNC_REPLICAS: '2' })).toThrow(/TOPIC_MIN_INSYNC_REPLICAS=2 is more than the 1 replicas/);
    expect(() => readConfig({ TOPIC_REPLICATION_FACTOR: '0' })).toThrow(/TOPIC_REPLICATION_FACTOR/);
    expect(() => readConfig({ TOPIC_REPLICATION_FACTOR: 'three' })).toThrow(/TOPIC_REPLICATION_FACTOR/);
  });
});

describe('topic specs carry the replication', () => {
  const catalog = topicCatalog({ replicationFactor: 3, minInsyncReplicas: 2 });

  it('on every topic of the catalog and every dead-letter topic', () => {
    const specs = allTopicSpecs(catalog);
    expect(specs.some((t) => t.role === 'dlq')).toBe(true);
    for (const spec of specs) {
      expect({ topic: spec.name, replicas: spec.replicationFactor, minIsr: spec.configs['min.insync.replicas'] }).toEqual({ topic: spec.name, replicas: 3, minIsr: '2' });
    }
  });

  it('defaults to one replica that alone takes a write', () => {
    for (const spec of allTopicSpecs(topicCatalog())) expect([spec.replicationFactor, spec.configs['min.insync.replicas']]).toEqual([1, '1']);
  });

  it('refuses more in-sync replicas than replicas', () => {
    expect(() => topicCatalog({ replicationFactor: 1, minInsyncReplicas: 2 })).toThrow(RangeError);
    expect(() => topicCatalog({ replicationFactor: 0 })).toThrow(RangeError);
  });
});

describe('drift between a declared topic and the broker', () => {
  const spec: TopicSpec = topicCatalog({ replicationFactor: 3, minInsyncReplicas: 2 }).topic('restaurant.order.commands');
  const configs = new Map(Object.entries(spec.configs));

  it('is none when partitions, replicas and configs match (other configs of the broker are not the catalog’s business)', () => {
    expect(topicDifferences(spec, { replicasByPartition: [3, 3, 3, 3, 3, 3], configs: new Map([...configs, ['segment.bytes', '1073741824']]) })).toEqual([]);
  });

  it('names a replication factor that differs, also on some partitions only', () => {
    expect(topicDifferences(spec, { replicasByPartition: [1, 1, 1, 1, 1, 1], configs })).toEqual(['replication factor: declared 3, broker has 1']);
    expect(topicDifferences(spec, { replicasByPartition: [3, 3, 2, 3, 3, 3], configs })).toEqual(['replication factor: declared 3, broker has 2 or 3']);
  });

  it('names min.insync.replicas, other configs and partitions that differ, each on its own line', () => {
    const drifted = new Map([...configs, ['min.insync.replicas', '1'], ['retention.ms', '1000']]);
    expect(topicDifferences(spec, { replicasByPartition: [3, 3, 3], configs: drifted })).toEqual([
      'partitions: declared 6, broker has 3',
      'retention.ms: declared 604800000, broker has 1000',
      'min.insync.replicas: declared 2, broker has 1',
    ]);
    const missing = new Map(configs);
    missing.delete('cleanup.policy');
    expect(topicDifferences(spec, { replicasByPartition: [3, 3, 3, 3, 3, 3], configs: missing })).toEqual(['cleanup.policy: declared delete, broker has (unset)']);
  });
});
