// Avro in the Confluent wire format: magic byte 0, the writer schema's registry
// id (int32, big-endian), then the Avro binary body.
//
// Encoding registers the record's schema under its TopicRecordNameStrategy
// subject once and caches the id. Decoding fetches a writer schema by id once
// (ids are immutable) and resolves it to the reader schema this build has for
// the same record name, so old data reads with defaults and new fields a reader
// does not know are skipped.
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Type as AvroType, type Type } from 'avsc';
import { loadSchemas, type SchemaSet } from '../../schemas/loader';
import { subjectName } from '../../schemas/topics';

export type DecodeFailure = 'not-avro' | 'unknown-schema-id' | 'unknown-record' | 'incompatible' | 'corrupt';

/** The bytes cannot be turned into a record this build knows; retrying will not help (dead-letter it). */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  readonly retriable = false;
  constructor(
    readonly reason: DecodeFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The registry did not answer or refused a registration; retriable when it is a transport problem. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface Decoded {
  /** Full record name of the writer schema, e.g. `restaurant.order.OrderPlaced`. */
  readonly fullName: string;
  readonly schemaId: number;
  readonly value: unknown;
}

const MAGIC = 0;

function statusOf(error: unknown): number | undefined {
  if (typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number') return error.status;
  return undefined;
}

/**
 * Two processes registering a new subject at once can make the registry refuse
 * the slower one; asked again, it finds the schema there and answers with its
 * id. A few quick attempts, then the error stands.
 */
async function registerWithRetry<T>(attempt: () => Promise<T>, tries = 4): Promise<T> {
  for (let i = 1; ; i += 1) {
    try {
      return await attempt();
    } catch (error) {
      const status = statusOf(error);
      const worthRetrying = status === undefined || status === 409 || status >= 500;
      if (i >= tries || !worthRetrying) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** (i - 1)));
    }
  }
}

/** The registry client's requests for one subject's compatibility level (@kafkajs/confluent-schema-registry keeps them out of its public API). */
interface SubjectConfigApi {
  readonly Subject: {
    config(params: { subject: string }): Promise<unknown>;
    updateConfig(params: { subject: string; body: { compatibility: string } }): Promise<unknown>;
  };
}

function subjectConfigApi(registry: SchemaRegistry): SubjectConfigApi {
  const api = (registry as unknown as { api?: Partial<SubjectConfigApi> }).api;
  if (typeof api?.Subject?.config !== 'function' || typeof api.Subject.updateConfig !== 'function') {
    throw new RegistryError('the schema registry client has no Subject.config/updateConfig requests (its version changed?)', false);
  }
  return api as SubjectConfigApi;
}

/**
 * Sets a new subject's compatibility level before its first version. The
 * client sets it after: a second process registering the same new subject in
 * between is told the registry's default (NONE) and refused ("Compatibility
 * does not match the configuration"), and a process that dies in between
 * leaves the subject so for good. Set first, no one ever sees the subject
 * without its level, and processes racing to set the same level all succeed
 * (setting it again changes nothing). A subject that exists keeps its level:
 * `register` checks it.
 */
async function setLevelOfNewSubject(registry: SchemaRegistry, subject: string): Promise<void> {
  const api = subjectConfigApi(registry);
  try {
    await api.Subject.config({ subject });
    return;
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
  }
  await api.Subject.updateConfig({ subject, body: { compatibility: COMPATIBILITY.BACKWARD_TRANSITIVE } });
}

/** The bytes, once checked to be in the Confluent wire format (magic byte, schema id); else DecodeError. */
function wireBody(bytes: Buffer | null): Buffer {
  if (bytes === null || bytes.length < 5) throw new DecodeError('not-avro', `message of ${bytes?.length ?? 0} bytes is too short for the Confluent wire format`);
  if (bytes.readUInt8(0) !== MAGIC) throw new DecodeError('not-avro', `unknown magic byte ${bytes.readUInt8(0)} (expected 0)`);
  return bytes;
}

export class AvroCodec {
  private readonly ids = new Map<string, Promise<number>>();
  private readonly readers = new Map<number, Promise<{ fullName: string; reader: Type; resolver: ReturnType<Type['createResolver']> }>>();
  /** The readers already resolved, for decoding without a promise per message (decodeKnown). */
  private readonly resolved = new Map<number, { fullName: string; reader: Type; resolver: ReturnType<Type['createResolver']> }>();
  /** Writer types by schema id, for projections (decodeFields). */
  private readonly writers = new Map<number, Type>();
  /** Per schema id and field list: a reader of only those fields, resolved against the writer. */
  private readonly projections = new Map<string, { fullName: string; reader: Type; resolver: ReturnType<Type['createResolver']> }>();

  constructor(
    readonly registry: SchemaRegistry,
    private readonly schemas: SchemaSet = loadSchemas(),
  ) {}

  /** Registers (idempotently) the record's schema under `<topic>-<fullName>` and returns its id. */
  schemaId(topic: string, fullName: string): Promise<number> {
    const subject = subjectName(topic, fullName);
    let id = this.ids.get(subject);
    if (id === undefined) {
      const schema = this.schemas.get(fullName).schemaText;
      id = registerWithRetry(async () => {
        await setLevelOfNewSubject(this.registry, subject);
        return this.registry.register({ type: SchemaType.AVRO, schema }, { subject, compatibility: COMPATIBILITY.BACKWARD_TRANSITIVE });
      })
        .then(
          (r) => r.id,
          (cause: unknown) => {
            this.ids.delete(subject);
            const status = statusOf(cause);
            throw new RegistryError(
              `could not register ${fullName} under subject ${subject}: ${(cause as Error).message}`,
              status === undefined || status >= 500,
              { cause },
            );
          },
        );
      this.ids.set(subject, id);
    }
    return id;
  }

  /** Encodes a record of this build's schema `fullName` for `topic`. Throws on a value the schema rejects. */
  async encode(topic: string, fullName: string, value: unknown): Promise<Buffer> {
    const id = await this.schemaId(topic, fullName);
    return this.encodeWithId(id, fullName, value);
  }

  /**
   * Throws, as `encode` would, on a value this build's schema `fullName`
   * rejects, without encoding it (a walk of the value, no bytes written).
   */
  validate(fullName: string, value: unknown): void {
    const type = this.schemas.get(fullName).type;
    const paths: string[] = [];
    if (!type.isValid(value, { errorHook: (path) => paths.push(path.join('.') || '(the record)') })) throw new Error(`invalid ${fullName}: ${paths.slice(0, 5).join(', ')}`);
  }

  encodeWithId(id: number, fullName: string, value: unknown): Buffer {
    const type = this.schemas.get(fullName).type;
    const body = type.toBuffer(value);
    const out = Buffer.allocUnsafe(5 + body.length);
    out.writeUInt8(MAGIC, 0);
    out.writeInt32BE(id, 1);
    body.copy(out, 5);
    return out;
  }

  async decode(bytes: Buffer | null): Promise<Decoded> {
    const known = this.decodeKnown(bytes);
    if (known !== undefined) return known;
    const schemaId = (bytes as Buffer).readInt32BE(1);
    return this.body(bytes as Buffer, schemaId, await this.readerFor(schemaId));
  }

  /**
   * Decodes at once when the writer's schema has been resolved before (the
   * usual case after the first message of a type); undefined when it has not,
   * and `decode` must ask the registry. Throws DecodeError like `decode`.
   */
  decodeKnown(bytes: Buffer | null): Decoded | undefined {
    const body = wireBody(bytes);
    const schemaId = body.readInt32BE(1);
    const reader = this.resolved.get(schemaId);
    return reader === undefined ? undefined : this.body(body, schemaId, reader);
  }

  private body(bytes: Buffer, schemaId: number, { fullName, reader, resolver }: { fullName: string; reader: Type; resolver: ReturnType<Type['createResolver']> }): Decoded {
    try {
      return { fullName, schemaId, value: reader.fromBuffer(bytes.subarray(5), resolver) };
    } catch (cause) {
      throw new DecodeError('corrupt', `the body of a ${fullName} (schema id ${schemaId}) does not decode: ${(cause as Error).message}`, { cause });
    }
  }

  /**
   * Decodes only `fields` of a record (those this build's record has): the
   * rest of the body is skipped, not built into objects (a restore that needs
   * a state's status decodes two fields of a 1.6 KB snapshot). Throws
   * DecodeError like `decode`; a corrupt field that is skipped may go unseen.
   */
  async decodeFields(bytes: Buffer | null, fields: readonly string[]): Promise<Decoded> {
    const body = wireBody(bytes);
    const schemaId = body.readInt32BE(1);
    const key = `${schemaId}|${fields.join(',')}`;
    let projection = this.projections.get(key);
    if (projection === undefined) {
      const { fullName, reader } = await this.readerFor(schemaId);
      const writer = this.writers.get(schemaId) as Type;
      const recordFields = (reader as unknown as { fields: ReadonlyArray<{ name: string; type: Type; defaultValue(): unknown }> }).fields.filter((f) => fields.includes(f.name));
      try {
        const projected = AvroType.forSchema({
          type: 'record',
          name: fullName,
          fields: recordFields.map((f) => ({ name: f.name, type: f.type as never, ...(f.defaultValue() === undefined ? {} : { default: f.defaultValue() }) })),
        });
        projection = { fullName, reader: projected, resolver: projected.createResolver(writer) };
      } catch (cause) {
        throw new DecodeError('incompatible', `this build's ${fullName} fields ${fields.join(', ')} cannot read schema ${schemaId}: ${(cause as Error).message}`, { cause });
      }
      this.projections.set(key, projection);
    }
    return this.body(body, schemaId, projection);
  }

  private readerFor(schemaId: number): Promise<{ fullName: string; reader: Type; resolver: ReturnType<Type['createResolver']> }> {
    let found = this.readers.get(schemaId);
    if (found === undefined) {
      found = this.resolve(schemaId);
      // Transport failures are not cached; a missing or foreign schema is, like the id itself, permanent.
      found.catch((error: unknown) => {
        if (!(error instanceof DecodeError)) this.readers.delete(schemaId);
      });
      this.readers.set(schemaId, found);
    }
    return found;
  }

  private async resolve(schemaId: number): Promise<{ fullName: string; reader: Type; resolver: ReturnType<Type['createResolver']> }> {
    let writer: Type;
    try {
      writer = (await this.registry.getSchema(schemaId)) as unknown as Type;
    } catch (cause) {
      const status = statusOf(cause);
      if (status === 404) throw new DecodeError('unknown-schema-id', `the registry has no schema with id ${schemaId}`, { cause });
      throw new RegistryError(`could not fetch schema ${schemaId}: ${(cause as Error).message}`, status === undefined || status >= 500, { cause });
    }
    const fullName = writer.name;
    const known = fullName === undefined ? undefined : this.schemas.byName.get(fullName);
    if (fullName === undefined || known === undefined) {
      throw new DecodeError('unknown-record', `schema ${schemaId} is a ${fullName ?? 'nameless type'}, which this build does not know`);
    }
    try {
      const resolved = { fullName, reader: known.type, resolver: known.type.createResolver(writer) };
      this.writers.set(schemaId, writer);
      this.resolved.set(schemaId, resolved);
      return resolved;
    } catch (cause) {
      throw new DecodeError('incompatible', `this build's ${fullName} cannot read schema ${schemaId}: ${(cause as Error).message}`, { cause });
    }
  }
}
