// Registry half of the compatibility gate, over the Confluent-compatible REST
// API (Confluent, Apicurio ccompat, Redpanda, Karapace). Uses Node's fetch.

export const DEFAULT_REGISTRY_URL = 'http://127.0.0.1:8081/apis/ccompat/v7';
const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RegistryError';
  }
}

export interface RegistryClientOptions {
  readonly url?: string;
  readonly timeoutMs?: number;
}

export interface SubjectCheck {
  readonly subject: string;
  /** Expanded, self-contained schema JSON. */
  readonly schema: string;
}

export type SubjectResult =
  | { readonly subject: string; readonly status: 'compatible' }
  | { readonly subject: string; readonly status: 'not-registered' }
  | { readonly subject: string; readonly status: 'incompatible'; readonly messages: readonly string[] };

export interface RegistryReport {
  readonly reachable: boolean;
  /** Why the registry was skipped, when it was. */
  readonly note?: string;
  readonly results: readonly SubjectResult[];
  /** Subjects whose compatibility level is weaker than BACKWARD_TRANSITIVE. */
  readonly weakLevels: ReadonlyArray<{ readonly subject: string; readonly level: string }>;
}

export class RegistryClient {
  readonly url: string;
  private readonly timeoutMs: number;

  constructor(options: RegistryClientOptions = {}) {
    this.url = (options.url ?? DEFAULT_REGISTRY_URL).replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  private async request(method: string, pathAndQuery: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${pathAndQuery}`, {
        method,
        headers: { Accept: CONTENT_TYPE, ...(body === undefined ? {} : { 'Content-Type': CONTENT_TYPE }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new RegistryError(`schema registry ${this.url} did not answer ${method} ${pathAndQuery}`, true, { cause: err });
    }
    const text = await response.text();
    let json: unknown = null;
    try {
      json = text === '' ? null : (JSON.parse(text) as unknown);
    } catch (err) {
      throw new RegistryError(`schema registry answered ${response.status} with non-JSON: ${text.slice(0, 200)}`, response.status >= 500, { cause: err });
    }
    return { status: response.status, json };
  }

  private static fail(what: string, status: number, json: unknown): never {
    throw new RegistryError(`${what}: HTTP ${status} ${JSON.stringify(json)}`, status >= 500);
  }

  /** Throws a retriable RegistryError when the registry does not answer (its global config is the cheapest question). */
  async probe(): Promise<void> {
    const { status, json } = await this.request('GET', '/config');
    if (status !== 200) RegistryClient.fail('reading the global compatibility level', status, json);
  }

  /**
   * Whether the subject has a version. Asked per subject, not read from the list
   * of all subjects: Apicurio's ccompat API caps that list (1,000 by default), so
   * a registry with more subjects would call registered ones new.
   */
  async hasSubject(subject: string): Promise<boolean> {
    const { status, json } = await this.request('GET', `/subjects/${encodeURIComponent(subject)}/versions`);
    if (status === 404) return false;
    if (status !== 200 || !Array.isArray(json)) RegistryClient.fail(`reading the versions of ${subject}`, status, json);
    return json.length > 0;
  }

  async register(subject: string, schema: string): Promise<number> {
    const { status, json } = await this.request('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schema, schemaType: 'AVRO' });
    const id = (json as { id?: unknown } | null)?.id;
    if (status !== 200 || typeof id !== 'number') RegistryClient.fail(`registering ${subject}`, status, json);
    return id;
  }

  async setCompatibility(subject: string, level: string): Promise<void> {
    const { status, json } = await this.request('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: level });
    if (status !== 200) RegistryClient.fail(`setting compatibility of ${subject}`, status, json);
  }

  /** The subject's level, falling back to the global one. */
  async compatibility(subject: string): Promise<string> {
    const { status, json } = await this.request('GET', `/config/${encodeURIComponent(subject)}?defaultToGlobal=true`);
    const body = (json ?? {}) as { compatibilityLevel?: unknown; compatibility?: unknown };
    const level = body.compatibilityLevel ?? body.compatibility;
    if (status === 200 && typeof level === 'string') return level;
    const global = await this.request('GET', '/config');
    const g = (global.json ?? {}) as { compatibilityLevel?: unknown; compatibility?: unknown };
    const globalLevel = g.compatibilityLevel ?? g.compatibility;
    if (global.status !== 200 || typeof globalLevel !== 'string') RegistryClient.fail(`reading compatibility of ${subject}`, global.status, global.json);
    return globalLevel;
  }

  /** Checks a schema against the subject's versions as its compatibility level says (all of them for *_TRANSITIVE). */
  async checkCompatibility(subject: string, schema: string): Promise<SubjectResult> {
    const { status, json } = await this.request('POST', `/compatibility/subjects/${encodeURIComponent(subject)}/versions?verbose=true`, { schema, schemaType: 'AVRO' });
    if (status === 404) return { subject, status: 'not-registered' };
    const body = (json ?? {}) as { is_compatible?: unknown; messages?: unknown };
    if (status !== 200 || typeof body.is_compatible !== 'boolean') RegistryClient.fail(`checking ${subject}`, status, json);
    if (body.is_compatible) return { subject, status: 'compatible' };
    const messages = Array.isArray(body.messages) ? body.messages.map(String) : [];
    return { subject, status: 'incompatible', messages: messages.length > 0 ? messages : ['the registry gave no details'] };
  }

  /** Soft- then hard-deletes a subject (tests clean up with this). */
  async deleteSubject(subject: string): Promise<void> {
    for (const query of ['', '?permanent=true']) {
      const { status, json } = await this.request('DELETE', `/subjects/${encodeURIComponent(subject)}${query}`);
      if (status !== 200 && status !== 404) RegistryClient.fail(`deleting ${subject}`, status, json);
    }
  }
}

const STRONG_LEVELS = new Set(['BACKWARD_TRANSITIVE', 'FULL_TRANSITIVE']);

/**
 * Checks each candidate against its registered subject. Subjects not yet
 * registered are fine (first version). An unreachable registry is reported as
 * skipped, not as a failure; the offline check still guards the build.
 */
export async function checkAgainstRegistry(client: RegistryClient, candidates: readonly SubjectCheck[]): Promise<RegistryReport> {
  const existing: boolean[] = [];
  try {
    await client.probe();
    for (const candidate of candidates) existing.push(await client.hasSubject(candidate.subject));
  } catch (err) {
    if (err instanceof RegistryError && err.retriable) {
      return { reachable: false, note: `${err.message}; registry check skipped`, results: [], weakLevels: [] };
    }
    throw err;
  }
  const results: SubjectResult[] = [];
  const weakLevels: Array<{ subject: string; level: string }> = [];
  for (const [i, candidate] of candidates.entries()) {
    if (existing[i] !== true) {
      results.push({ subject: candidate.subject, status: 'not-registered' });
      continue;
    }
    const level = await client.compatibility(candidate.subject);
    if (!STRONG_LEVELS.has(level)) weakLevels.push({ subject: candidate.subject, level });
    results.push(await client.checkCompatibility(candidate.subject, candidate.schema));
  }
  return { reachable: true, results, weakLevels };
}
