// Projections and their query helpers are the read side's pure core: no
// infrastructure imports, no clock (times come from event metadata or the
// query's `now`), no randomness, no environment.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..', '..', '..', 'consumers', 'projections');
const files = readdirSync(root, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts'))
  // runtime/ is the shell around the core (kafkajs, ioredis, pino): not pure on purpose;
  // so are the replay tool, but for its progress arithmetic, and the redrive tool, but for its arguments.
  .filter((f) => !f.startsWith(`runtime${path.sep}`))
  .filter((f) => !f.startsWith(`replay${path.sep}`) || f === path.join('replay', 'progress.ts'))
  .filter((f) => !f.startsWith(`redrive${path.sep}`) || f === path.join('redrive', 'cli-args.ts'))
  .sort();

describe('read-side pure core', () => {
  it('has a projection, its keys and its query helpers for every read model', () => {
    for (const model of ['menu', 'customers', 'orders', 'kitchen', 'sales']) {
      for (const part of ['projection', 'keys', 'query']) expect(files).toContain(path.join(model, `${model}.${part}.ts`));
    }
  });

  it.each(files)('%s imports no infrastructure and reads no clock, randomness or environment', (file) => {
    const source = readFileSync(path.join(root, file), 'utf8');
    expect(source).not.toMatch(/from '(kafkajs|ioredis|express|pino|prom-client|@kafkajs\/[^']*)'/);
    expect(source).not.toMatch(/from '(\.\.\/)+(infra|producers)\//);
    expect(source).not.toMatch(/\bDate\b|performance\.now|Math\.random|randomUUID|process\.(env|hrtime)/);
  });
});
