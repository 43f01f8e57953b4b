// Workflows, the payment simulator's logic and choreography policies are pure
// cores: no infrastructure imports, no clock, no randomness, no environment.
import { readFileSync } from 'node:fs';
import path from 'node:path';

const consumers = path.join(__dirname, '..', '..', '..', '..', 'consumers');
const PURE = [
  path.join('process-managers', 'order-fulfilment', 'order-fulfilment.workflow.ts'),
  path.join('payment-simulator', 'payment-simulator.ts'),
  path.join('loyalty', 'loyalty.policy.ts'),
  // The definitions the runtime runs: routing, encoding descriptions and the decisions, no I/O of their own.
  path.join('process-managers', 'order-fulfilment', 'order-fulfilment.process.ts'),
  path.join('payment-simulator', 'payment-simulator.process.ts'),
  path.join('loyalty', 'loyalty.process.ts'),
  path.join('process-managers', 'runtime', 'definition.ts'),
  path.join('..', 'infra', 'stateful', 'definition.ts'),
  path.join('..', 'infra', 'stateful', 'deadline-queue.ts'),
];

describe('process managers, simulator and policies are pure', () => {
  it.each(PURE)('%s imports no infrastructure and reads no clock, randomness or environment', (file) => {
    const source = readFileSync(path.join(consumers, file), 'utf8');
    expect(source).not.toMatch(/from '(kafkajs|ioredis|express|pino|prom-client|@kafkajs\/[^']*)'/);
    // The stateful runtime's definition types are the one piece of infra a definition may name (a pure module, tested here too).
    expect(source).not.toMatch(/from '(\.\.\/)+infra\/(?!stateful\/definition')/);
    expect(source).not.toMatch(/\bDate\b|performance\.now|Math\.random|randomUUID|process\.(env|hrtime)|setTimeout/);
  });
});
