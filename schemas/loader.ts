// Loads the Avro contracts under schemas/avro: one .avsc per named type,
// referencing other named types by full name. Every named type is expanded into
// a self-contained schema (referenced types inlined on first use, by name
// afterwards: exactly what Avro's parser expects), which is both what gets
// registered in the schema registry and what avsc parses into a Type.
//
// avsc's own `type.schema()` drops attributes it does not model (enum
// `default`, unregistered `logicalType`), so the expansion is done here, on the
// JSON as written, and keeps every attribute.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Type } from 'avsc';

type AvscSchema = Parameters<typeof Type.forSchema>[0];

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** What a named type is for, derived from its shape so nothing has to be listed by hand. */
export type SchemaKind = 'event' | 'command' | 'snapshot' | 'state' | 'reply' | 'checkpoint' | 'audit' | 'parking' | 'type';

export interface SchemaSource {
  /** Path relative to the schema root, with forward slashes: `restaurant/order/OrderPlaced.avsc`. */
  readonly path: string;
  readonly text: string;
}

export interface NamedSchema {
  /** `restaurant.order.OrderPlaced` */
  readonly fullName: string;
  /** `OrderPlaced` */
  readonly name: string;
  /** `restaurant.order` */
  readonly namespace: string;
  /** Last namespace segment: `order`. */
  readonly area: string;
  readonly avroType: 'record' | 'enum';
  readonly kind: SchemaKind;
  readonly file: string;
  /** The schema exactly as written in its file. */
  readonly raw: JsonObject;
  /** Full names of the named types this one references directly. */
  readonly references: readonly string[];
  /** Self-contained schema with every referenced named type inlined. */
  readonly expanded: JsonObject;
  /** `JSON.stringify(expanded)`: what is registered in the schema registry. */
  readonly schemaText: string;
  /** avsc type parsed from `expanded`. Longs decode to numbers; timestamp-millis stays epoch millis. */
  readonly type: Type;
}

export interface SchemaSet {
  /** Every named type, sorted by full name. */
  readonly all: readonly NamedSchema[];
  readonly byName: ReadonlyMap<string, NamedSchema>;
  /** The named type with this full name; throws when there is none. */
  get(fullName: string): NamedSchema;
  ofKind(kind: SchemaKind): readonly NamedSchema[];
}

export class SchemaError extends Error {
  constructor(
    message: string,
    readonly problems: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(problems.length > 0 ? `${message}:\n  - ${problems.join('\n  - ')}` : message, options);
    this.name = 'SchemaError';
  }
}

export const SCHEMA_ROOT = path.join(__dirname, 'avro');

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
const EVENT_METADATA = 'restaurant.common.EventMetadata';
const COMMAND_METADATA = 'restaurant.common.CommandMetadata';
const COMMAND_REPLY = 'restaurant.common.CommandReply';
/** An operator's action on dead-lettered events, on restaurant.dead-letter-actions. */
export const DEAD_LETTER_ACTION = 'restaurant.common.DeadLetterAction';
const COMMAND_CHECKPOINT = 'restaurant.common.CommandCheckpoint';
/** A parked input of a stateful runtime, and an operator's request about one, on its `<changelog>.parked` topic. */
export const PARKED_INPUT = 'restaurant.common.ParkedInput';
export const PARKING_REQUEST = 'restaurant.common.ParkingRequest';

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads every `.avsc` file under `root`, sorted by path so loading is deterministic. */
export function readSchemaSources(root: string = SCHEMA_ROOT): SchemaSource[] {
  const sources: SchemaSource[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.avsc')) {
        sources.push({ path: path.relative(root, full).split(path.sep).join('/'), text: readFileSync(full, 'utf8') });
      }
    }
  };
  walk(root);
  return sources.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Collects the named-type references of a type expression, and style problems found on the way. */
function collectReferences(typeExpr: JsonValue, where: string, refs: string[], problems: string[]): void {
  if (typeof typeExpr === 'string') {
    if (PRIMITIVES.has(typeExpr)) return;
    if (!typeExpr.includes('.')) problems.push(`${where}: reference "${typeExpr}" must be a full name (namespace.Name)`);
    if (!refs.includes(typeExpr)) refs.push(typeExpr);
    return;
  }
  if (Array.isArray(typeExpr)) {
    const [first, second, ...rest] = typeExpr;
    if (typeExpr.length !== 2 || first !== 'null' || second === undefined || rest.length > 0) {
      problems.push(`${where}: unions must be ["null", T] (an optional field)`);
    }
    typeExpr.forEach((branch) => collectReferences(branch, where, refs, problems));
    return;
  }
  if (!isObject(typeExpr)) {
    problems.push(`${where}: not a type expression: ${JSON.stringify(typeExpr)}`);
    return;
  }
  const kind = typeExpr['type'];
  if (kind === 'array') collectReferences(typeExpr['items'] ?? null, `${where}[]`, refs, problems);
  else if (kind === 'map') collectReferences(typeExpr['values'] ?? null, `${where}{}`, refs, problems);
  else if (typeof kind === 'string' && PRIMITIVES.has(kind)) return; // e.g. {"type":"long","logicalType":"timestamp-millis"}
  else problems.push(`${where}: named types must live in their own .avsc file, not inline`);
}

function lintAndReference(raw: JsonObject, fullName: string, problems: string[]): string[] {
  const refs: string[] = [];
  if (typeof raw['doc'] !== 'string' || raw['doc'].trim() === '') problems.push(`${fullName}: missing "doc"`);
  if (raw['type'] === 'enum') {
    const symbols = raw['symbols'];
    const dflt = raw['default'];
    if (!Array.isArray(symbols) || symbols.length === 0) problems.push(`${fullName}: enum without symbols`);
    else if (typeof dflt !== 'string' || !symbols.includes(dflt)) {
      problems.push(`${fullName}: enum needs a "default" that is one of its symbols (e.g. UNKNOWN)`);
    }
    return refs;
  }
  const fields = raw['fields'];
  if (!Array.isArray(fields)) {
    problems.push(`${fullName}: record without "fields"`);
    return refs;
  }
  for (const field of fields) {
    if (!isObject(field) || typeof field['name'] !== 'string') {
      problems.push(`${fullName}: malformed field ${JSON.stringify(field)}`);
      continue;
    }
    const where = `${fullName}.${field['name']}`;
    if (typeof field['doc'] !== 'string' || field['doc'].trim() === '') problems.push(`${where}: missing "doc"`);
    const fieldType = field['type'];
    if (fieldType === undefined) {
      problems.push(`${where}: missing "type"`);
      continue;
    }
    if (Array.isArray(fieldType) && field['default'] !== null) {
      problems.push(`${where}: optional fields need "default": null`);
    }
    collectReferences(fieldType, where, refs, problems);
  }
  return refs;
}

function classify(raw: JsonObject, fullName: string, name: string): SchemaKind {
  if (raw['type'] !== 'record') return 'type';
  if (fullName === COMMAND_REPLY) return 'reply';
  if (fullName === DEAD_LETTER_ACTION) return 'audit';
  if (fullName === COMMAND_CHECKPOINT) return 'checkpoint';
  if (fullName === PARKED_INPUT || fullName === PARKING_REQUEST) return 'parking';
  const fields = Array.isArray(raw['fields']) ? raw['fields'] : [];
  const metadata = fields.find((f) => isObject(f) && f['name'] === 'metadata');
  const metadataType = isObject(metadata) ? metadata['type'] : undefined;
  if (metadataType === EVENT_METADATA) return 'event';
  if (metadataType === COMMAND_METADATA) return 'command';
  if (name.endsWith('Snapshot')) return 'snapshot';
  // A process manager's state, kept in its compacted changelog topic.
  if (name.endsWith('State')) return 'state';
  return 'type';
}

function expandTypeExpr(
  typeExpr: JsonValue,
  raws: ReadonlyMap<string, JsonObject>,
  seen: Set<string>,
  stack: readonly string[],
): JsonValue {
  if (typeof typeExpr === 'string') {
    if (PRIMITIVES.has(typeExpr)) return typeExpr;
    if (stack.includes(typeExpr)) throw new SchemaError(`recursive type ${[...stack, typeExpr].join(' -> ')} is not supported`);
    if (seen.has(typeExpr)) return typeExpr;
    return expandNamed(typeExpr, raws, seen, stack);
  }
  if (Array.isArray(typeExpr)) return typeExpr.map((branch) => expandTypeExpr(branch, raws, seen, stack));
  if (isObject(typeExpr)) {
    if (typeExpr['type'] === 'array') return { ...typeExpr, items: expandTypeExpr(typeExpr['items'] ?? null, raws, seen, stack) };
    if (typeExpr['type'] === 'map') return { ...typeExpr, values: expandTypeExpr(typeExpr['values'] ?? null, raws, seen, stack) };
  }
  return typeExpr;
}

function expandNamed(fullName: string, raws: ReadonlyMap<string, JsonObject>, seen: Set<string>, stack: readonly string[]): JsonObject {
  const raw = raws.get(fullName);
  if (raw === undefined) throw new SchemaError(`unknown type "${fullName}"`);
  seen.add(fullName);
  if (raw['type'] !== 'record') return { ...raw };
  const fields = (raw['fields'] as JsonValue[]).map((field) => {
    const f = field as JsonObject;
    return { ...f, type: expandTypeExpr(f['type'] ?? null, raws, seen, [...stack, fullName]) };
  });
  return { ...raw, fields };
}

/** Parses, lints and expands a set of schema files. Throws a SchemaError listing every problem found. */
export function buildSchemaSet(sources: readonly SchemaSource[]): SchemaSet {
  const problems: string[] = [];
  const raws = new Map<string, JsonObject>();
  const meta = new Map<string, { file: string; name: string; namespace: string; references: string[] }>();

  for (const source of sources) {
    let raw: JsonValue;
    try {
      raw = JSON.parse(source.text) as JsonValue;
    } catch (err) {
      problems.push(`${source.path}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
      continue;
    }
    if (!isObject(raw) || (raw['type'] !== 'record' && raw['type'] !== 'enum')) {
      problems.push(`${source.path}: top level must be a named record or enum`);
      continue;
    }
    const name = raw['name'];
    const namespace = raw['namespace'];
    if (typeof name !== 'string' || typeof namespace !== 'string' || name.includes('.')) {
      problems.push(`${source.path}: needs a simple "name" and a "namespace"`);
      continue;
    }
    const fullName = `${namespace}.${name}`;
    const expectedPath = `${namespace.split('.').join('/')}/${name}.avsc`;
    if (source.path !== expectedPath) problems.push(`${source.path}: ${fullName} must live in ${expectedPath}`);
    if (!namespace.startsWith('restaurant.')) problems.push(`${fullName}: namespace must start with "restaurant."`);
    if (raws.has(fullName)) {
      problems.push(`${fullName}: defined twice`);
      continue;
    }
    raws.set(fullName, raw);
    meta.set(fullName, { file: source.path, name, namespace, references: lintAndReference(raw, fullName, problems) });
  }
  for (const [fullName, m] of meta) {
    for (const ref of m.references) if (!raws.has(ref)) problems.push(`${fullName}: references unknown type "${ref}"`);
  }
  if (problems.length > 0) throw new SchemaError('invalid Avro schemas', problems);

  const all: NamedSchema[] = [];
  for (const fullName of [...raws.keys()].sort()) {
    const raw = raws.get(fullName) as JsonObject;
    const m = meta.get(fullName) as { file: string; name: string; namespace: string; references: string[] };
    let expanded: JsonObject;
    let type: Type;
    try {
      expanded = expandNamed(fullName, raws, new Set(), []);
      type = Type.forSchema(expanded as AvscSchema);
    } catch (err) {
      problems.push(`${fullName}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    all.push({
      fullName,
      name: m.name,
      namespace: m.namespace,
      area: m.namespace.slice(m.namespace.lastIndexOf('.') + 1),
      avroType: raw['type'] === 'enum' ? 'enum' : 'record',
      kind: classify(raw, fullName, m.name),
      file: m.file,
      raw,
      references: m.references,
      expanded,
      schemaText: JSON.stringify(expanded),
      type,
    });
  }
  if (problems.length > 0) throw new SchemaError('Avro schemas that avsc cannot parse', problems);

  const byName = new Map(all.map((s) => [s.fullName, s] as const));
  return {
    all,
    byName,
    get(fullName: string): NamedSchema {
      const found = byName.get(fullName);
      if (found === undefined) throw new SchemaError(`no schema named "${fullName}"`);
      return found;
    },
    ofKind(kind: SchemaKind): readonly NamedSchema[] {
      return all.filter((s) => s.kind === kind);
    },
  };
}

let cached: SchemaSet | undefined;

/** The project's schemas, loaded once per process. */
export function loadSchemas(): SchemaSet {
  cached ??= buildSchemaSet(readSchemaSources());
  return cached;
}
