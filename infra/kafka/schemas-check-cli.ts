// `npm run schemas:check`: the schema gate (schemas/compat/check.ts) against
// the configured registry (SCHEMA_REGISTRY_URL, default the local stack's).
import { checkSchemas } from '../../schemas/compat/check';
import { config } from '../config';

checkSchemas(config().registry.url).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error('schemas:check could not run:', err);
    process.exitCode = 2;
  },
);
