import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { redisAccess, redisUserName } from '../../../app/redis-access';
import { setUserArgs, urlWithUser } from '../../../infra/redis/acl';
import { credentialsFile, ensureCredentials, readCredentials } from '../../../infra/stack/credentials';
import { readStackSettings, StackConfigError } from '../../../infra/stack/settings';

describe('the local stack’s credentials', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'credentials-'));
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

  it('are generated once per user, kept private, and reused', () => {
    const first = ensureCredentials(home, { kafka: ['gateway', 'query'], redis: ['query'] });
    expect(Object.keys(first.kafka)).toEqual(['gateway', 'query']);
    expect(first.kafka.gateway).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.kafka.gateway).not.toBe(first.kafka.query);
    expect(fs.statSync(credentialsFile(home)).mode & 0o777).toBe(0o600);
    const again = ensureCredentials(home, { kafka: ['gateway', 'loyalty'] });
    expect(again.kafka.gateway).toBe(first.kafka.gateway);
    expect(again.redis.query).toBe(first.redis.query);
    expect(readCredentials(home).kafka.loyalty).toBe(again.kafka.loyalty);
  });

  it('STACK_KAFKA_SECURITY is plaintext by default, sasl on request, and nothing else', () => {
    expect(readStackSettings({}).kafka.security).toBe('plaintext');
    expect(readStackSettings({ STACK_KAFKA_SECURITY: 'sasl' }).kafka.security).toBe('sasl');
    expect(() => readStackSettings({ STACK_KAFKA_SECURITY: 'ssl' })).toThrow(StackConfigError);
    expect(() => readStackSettings({ STACK_KAFKA_SECURITY: 'ssl' })).toThrow('STACK_KAFKA_SECURITY="ssl" is not one of plaintext, sasl');
  });
});

describe('the Redis ACL catalog', () => {
  const users = new Map(redisAccess('p.').map((u) => [u.name, u.rules] as const));

  it('starts every user from nothing and forbids dangerous commands', () => {
    for (const rules of users.values()) {
      expect(rules[0]).toBe('-@all');
      expect(rules).toContain('-@dangerous');
      expect(rules.some((r) => r === '~*' || r === 'allkeys' || r === '+@all' || r === 'allchannels')).toBe(false);
    }
  });

  it('the query API reads read-model keys only, and may write nothing', () => {
    const query = users.get(redisUserName('query', 'p.')) as readonly string[];
    expect(query.filter((r) => r.includes('~'))).toEqual(['%R~rm:*']);
    expect(query.filter((r) => /^\+@(write|transaction|scripting)|^\+(eval|evalsha|publish|set|del)$/.test(r))).toEqual([]);
  });

  it('a projector writes its own model’s keys and publishes its own checkpoint channel only', () => {
    const menu = users.get(redisUserName('projector:menu', 'p.')) as readonly string[];
    expect(menu.filter((r) => r.includes('~'))).toEqual(['~rm:{*}:menu:*', '%R~rm:{*}:serving']);
    expect(menu.filter((r) => r.startsWith('&'))).toEqual(['&rm:{*}:menu:checkpoint']);
  });

  it('ACL SETUSER resets the user before defining it, and refuses unsafe names or weak passwords', () => {
    expect(setUserArgs({ name: 'p.query', rules: ['-@all'] }, 'x'.repeat(20)).slice(0, 5)).toEqual(['SETUSER', 'p.query', 'reset', 'on', `>${'x'.repeat(20)}`]);
    expect(() => setUserArgs({ name: 'a b', rules: [] }, 'x'.repeat(20))).toThrow(/must be letters/);
    expect(() => setUserArgs({ name: 'ok', rules: [] }, 'short')).toThrow(/at least 16/);
  });

  it('a user’s REDIS_URL carries its name and password', () => {
    expect(urlWithUser('redis://127.0.0.1:6379', 'p.query', 'pw/with:chars')).toBe('redis://p.query:pw%2Fwith%3Achars@127.0.0.1:6379');
  });
});
