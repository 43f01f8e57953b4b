import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

// The layers (docs/layout.md), lowest first. A layer imports only from the
// layers below it (and within itself); an import running upward fails lint.
// Type-only imports count too: they couple a layer to what is above it.
const KERNEL = './kernel';
const SCHEMAS = './schemas';
/** The machinery: what any role runs on and knows no role. */
const MACHINERY = './infra';
/** The domain roles: the command side, the read side and process managers, the web role's server. */
const ROLES = ['./producers', './consumers', './web/server'];
/** The composition root, with the tools that drive the whole system (app/chaos/). */
const TOP = './app';
/** Outside the layers, above all of them: they may import anything, nothing in a layer may import them. */
const TOOLS = ['./demo', './bench', './test'];
const above = (...layers) => layers.flat();
const layer = (target, from, name) => ({
  target,
  from,
  message: `${name}: import only from the layers below (kernel → schemas → infra → producers/consumers → app; docs/layout.md): pass what it needs in, or move the code to where it belongs.`,
});

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.local/', 'coverage/', 'web/dist/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx', '**/*.mts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
      eqeqeq: ['error', 'always'],
      'no-restricted-syntax': [
        'error',
        {
          selector: "Property[key.name='waitForLeaders'][value.value=true]",
          message:
            "kafkajs's waitForLeaders gives up while a busy broker still answers UNKNOWN_TOPIC_OR_PARTITION for a topic it just created: use createTopicsLed (infra/kafka/create-topics.ts) or, in tests, createTopicsAndWait (test/support/kafka.ts).",
        },
      ],
    },
  },
  {
    files: ['**/*.ts', '**/*.tsx', '**/*.mts'],
    ignores: ['web/src/**'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.tsx', '.mts', '.js', '.mjs', '.cjs', '.json', '.node'] })] },
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            layer(KERNEL, above(SCHEMAS, MACHINERY, ROLES, './web', TOP, TOOLS), 'kernel/'),
            layer(SCHEMAS, above(MACHINERY, ROLES, './web', TOP, TOOLS), 'schemas/'),
            layer(MACHINERY, above(ROLES, TOP, TOOLS), 'infra/ (the machinery)'),
            layer(ROLES, above(TOP, TOOLS), 'producers/, consumers/ and web/server/'),
            layer(['./app/!(chaos)/**', './app/*.ts'], TOOLS, 'app/ (the composition root)'),
            // The chaos suite drives the system with the demo's traffic and tokens.
            layer('./app/chaos', ['./bench', './test'], 'app/chaos/'),
          ],
        },
      ],
    },
  },
  {
    // The browser bundle takes types from the server code, never code: `import type` is erased by the build.
    files: ['web/src/**/*.ts', 'web/src/**/*.tsx'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/schemas/**', '**/consumers/**', '**/producers/**', '**/infra/**', '**/server/**'],
              allowTypeImports: true,
              message: 'web/src may take only types from the server code (import type): its code must not reach the browser bundle.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly', __dirname: 'readonly', process: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
