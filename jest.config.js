// Four projects, one runner: `unit` needs no infrastructure; `integration`,
// `e2e` and `cluster` talk to the real Kafka broker, schema registry and Redis of the local
// stack (`npm run stack:up`). TypeScript is transpiled only (tsconfig sets
// isolatedModules); `npm run typecheck` is the type gate.
/** @type {import('jest').Config['projects'][number]} */
const common = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  rootDir: __dirname,
  moduleFileExtensions: ['ts', 'js', 'json'],
};

/** @type {import('jest').Config} */
module.exports = {
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/require-stack.ts',
      setupFilesAfterEnv: ['<rootDir>/test/support/integration-timeout.ts'],
      slowTestThreshold: 30,
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/require-stack.ts',
      setupFilesAfterEnv: ['<rootDir>/test/support/e2e-timeout.ts'],
      slowTestThreshold: 60,
    },
    {
      // A three-node KRaft cluster of its own per run (docs/cluster.md): minutes of JVM start-up,
      // so `npm run test:cluster` runs it and `npm test` does not.
      ...common,
      displayName: 'cluster',
      testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/require-stack.ts',
      setupFilesAfterEnv: ['<rootDir>/test/support/e2e-timeout.ts'],
      slowTestThreshold: 300,
    },
  ],
};
