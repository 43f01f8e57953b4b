import { readConfig, ConfigError } from '../../../infra/config';
import { readStackSettings, StackConfigError } from '../../../infra/stack/settings';

describe('local stack settings', () => {
  it('defaults to the standard ports under .local', () => {
    const s = readStackSettings({});
    expect([s.kafka.port, s.kafka.controllerPort, s.registry.port, s.redis.port]).toEqual([9092, 9093, 8081, 6379]);
    expect(s.cacheDir).toMatch(/\.local\/cache$/);
    expect(Object.isFrozen(s)).toBe(true);
  });

  it('moves ports and folders by environment', () => {
    const s = readStackSettings({ KAFKA_PORT: '19092', STACK_HOME: '/tmp/stack-x', REGISTRY_PORT: '18081' });
    expect(s.kafka.port).toBe(19092);
    expect(s.registry.port).toBe(18081);
    expect(s.dataDir).toBe('/tmp/stack-x/data');
  });

  it.each([
    ['KAFKA_PORT', 'abc'],
    ['KAFKA_PORT', '70000'],
    ['REDIS_PORT', '0'],
    ['STACK_START_TIMEOUT_S', '1.5'],
  ])('rejects %s=%s with a message naming the variable', (name, value) => {
    expect(() => readStackSettings({ [name]: value })).toThrow(StackConfigError);
    expect(() => readStackSettings({ [name]: value })).toThrow(name);
  });

  it('refuses two services on one port', () => {
    expect(() => readStackSettings({ REGISTRY_PORT: '9092' })).toThrow(/must differ/);
  });
});

describe('application config', () => {
  it('points at the local stack by default and follows its ports', () => {
    const c = readConfig({ KAFKA_PORT: '19092', REDIS_PORT: '16379' });
    expect(c.kafka.brokers).toEqual(['127.0.0.1:19092']);
    expect(c.registry.url).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
    expect(c.redis.url).toBe('redis://127.0.0.1:16379');
  });

  it('takes explicit endpoints', () => {
    const c = readConfig({ KAFKA_BROKERS: 'k1:9092, k2:9092', SCHEMA_REGISTRY_URL: 'http://registry:8081/', REDIS_URL: 'redis://cache:6379' });
    expect(c.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(c.registry.url).toBe('http://registry:8081');
  });

  it('fails fast on malformed endpoints', () => {
    expect(() => readConfig({ KAFKA_BROKERS: 'no-port' })).toThrow(ConfigError);
    expect(() => readConfig({ SCHEMA_REGISTRY_URL: 'not a url' })).toThrow(/SCHEMA_REGISTRY_URL/);
  });
});
