// The deciders are the pure core: no infrastructure imports, no clock, no randomness.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const producers = path.join(__dirname, '..', '..', '..', 'producers');
const pureFiles = readdirSync(producers, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.decider.ts') || ['decider.ts', 'authorization.ts', 'permissions.ts'].some((name) => f === path.join('shared', name)))
  .sort();

describe('pure core', () => {
  it('finds the four deciders and the shared decider, authorization and permissions modules', () => {
    expect(pureFiles).toEqual([
      path.join('customer', 'customer.decider.ts'),
      path.join('email', 'email-reservation.decider.ts'),
      path.join('menu', 'menu-item.decider.ts'),
      path.join('order', 'order.decider.ts'),
      path.join('shared', 'authorization.ts'),
      path.join('shared', 'decider.ts'),
      path.join('shared', 'permissions.ts'),
    ]);
  });
  it.each([...pureFiles, path.join('..', 'schemas', 'validation.ts'), path.join('..', 'schemas', 'messages.ts')])(
    '%s imports no infrastructure and reads no clock or randomness',
    (file) => {
      const source = readFileSync(path.join(producers, file), 'utf8');
      expect(source).not.toMatch(/from '(kafkajs|ioredis|express|pino|prom-client|@kafkajs\/[^']*)'/);
      expect(source).not.toMatch(/Date\.now|new Date\(|Math\.random|randomUUID|process\.env/);
    },
  );
});
