// The command and event schemas as they were before `metadata.actor` existed:
// today's expanded schemas with the field dropped from the metadata record.
// Unit tests read across the two versions with them; integration tests register
// them and write genuinely old-format records (old schema ids) to a topic.
import { Type } from 'avsc';
import { loadSchemas, type NamedSchema, type SchemaSet } from '../../schemas/loader';

type Field = { readonly name: string; readonly type: unknown };

/** An expanded command or event schema without `metadata.actor`. */
export function withoutActor(expanded: object): object {
  const record = expanded as { fields: Field[] };
  return {
    ...record,
    fields: record.fields.map((f) => {
      if (f.name !== 'metadata') return f;
      const meta = f.type as { fields: Field[] };
      return { ...f, type: { ...meta, fields: meta.fields.filter((m) => m.name !== 'actor') } };
    }),
  };
}

function downgrade(schema: NamedSchema): NamedSchema {
  if (schema.kind !== 'event' && schema.kind !== 'command') return schema;
  const expanded = withoutActor(schema.expanded) as NamedSchema['expanded'];
  return { ...schema, expanded, schemaText: JSON.stringify(expanded), type: Type.forSchema(expanded as Parameters<typeof Type.forSchema>[0]) };
}

/** This build's schema set with every command and event as it was before actors were recorded. */
export function schemasBeforeActor(current: SchemaSet = loadSchemas()): SchemaSet {
  const byName = new Map(current.all.map((s) => [s.fullName, downgrade(s)] as const));
  const all = [...byName.values()];
  return {
    all,
    byName,
    get(fullName) {
      const schema = byName.get(fullName);
      if (schema === undefined) throw new Error(`no schema named ${fullName}`);
      return schema;
    },
    ofKind: (kind) => all.filter((s) => s.kind === kind),
  };
}
