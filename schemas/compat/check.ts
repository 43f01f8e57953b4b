// `npm run schemas:check`: fails the build when a schema change would break old
// data or old readers.
//  1. The current .avsc files must load (house rules: docs, enum defaults, ...).
//  2. Offline: every named type must read data written with each of its earlier
//     versions in git history (BACKWARD_TRANSITIVE, via avsc resolvers).
//  3. Registry (the URL it is given): every subject of the topic catalog that
//     is registered must accept the current schema. Skipped with a note when
//     the registry does not answer.
// Its command line, which reads the registry's address from the configuration
// (SCHEMA_REGISTRY_URL, default the local stack), is infra/kafka/schemas-check-cli.ts:
// the contracts import nothing from the machinery above them.
import { loadSchemas, SCHEMA_ROOT, type SchemaSet } from '../loader';
import { topicCatalog } from '../topics';
import { schemaHistory } from './history';
import { checkBackwardTransitive } from './offline';
import { checkAgainstRegistry, RegistryClient, type SubjectCheck } from './registry';

export function registryCandidates(schemas: SchemaSet): SubjectCheck[] {
  return topicCatalog({ schemas }).topics.flatMap((topic) =>
    topic.subjects.map((s) => ({ subject: s.subject, schema: schemas.get(s.recordName).schemaText })),
  );
}

/** Runs the three checks, printing what it found; 0 when they pass, 1 when one fails. */
export async function checkSchemas(url: string): Promise<number> {
  let failed = false;
  const schemas = loadSchemas(); // throws a SchemaError listing every rule broken
  console.log(`schemas: ${schemas.all.length} named types load and follow the house rules`);

  const history = schemaHistory(SCHEMA_ROOT);
  const offline = checkBackwardTransitive(schemas, history.versions);
  for (const skipped of history.skipped) console.log(`note: skipped an unloadable historical version (${skipped})`);
  for (const note of offline.notes) console.log(`note: ${note}`);
  for (const p of offline.problems) {
    failed = true;
    console.error(`INCOMPATIBLE ${p.fullName}: cannot read data written with its version in ${p.against}: ${p.reason}`);
  }
  console.log(`offline: ${history.versions.length} committed versions, ${offline.comparisons} changed type versions compared, ${offline.problems.length} incompatible`);

  const registry = await checkAgainstRegistry(new RegistryClient({ url }), registryCandidates(schemas));
  if (!registry.reachable) {
    console.log(`registry: ${registry.note ?? 'not reachable'}`);
  } else {
    for (const weak of registry.weakLevels) console.log(`note: subject ${weak.subject} has compatibility ${weak.level}; expected BACKWARD_TRANSITIVE`);
    let registered = 0;
    for (const r of registry.results) {
      if (r.status === 'not-registered') continue;
      registered += 1;
      if (r.status === 'incompatible') {
        failed = true;
        console.error(`INCOMPATIBLE subject ${r.subject} (registry ${url}): ${r.messages.join('; ')}`);
      }
    }
    console.log(`registry: ${registered} of ${registry.results.length} subjects registered at ${url} checked`);
  }

  console.log(failed ? 'schemas:check FAILED' : 'schemas:check passed');
  return failed ? 1 : 0;
}
