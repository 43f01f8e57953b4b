// The local stack's secrets: one generated password per Kafka SASL user and per
// Redis ACL user, created once into <STACK_HOME>/credentials.json (git-ignored,
// mode 0600) and reused, so a secured broker formatted with them and the roles
// started later agree. docs/least-privilege.md.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface Credentials {
  readonly kafka: Readonly<Record<string, string>>;
  readonly redis: Readonly<Record<string, string>>;
}

export const credentialsFile = (home: string): string => path.join(home, 'credentials.json');

/** 32 random bytes in base64url: no character that needs quoting in JAAS, --add-scram or a URL. */
export const newPassword = (): string => randomBytes(32).toString('base64url');

export function readCredentials(home: string): Credentials {
  const file = credentialsFile(home);
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Credentials>;
    return { kafka: { ...parsed.kafka }, redis: { ...parsed.redis } };
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return { kafka: {}, redis: {} };
    throw new Error(`${file} is not readable JSON; delete it to generate new credentials`, { cause });
  }
}

/** The credentials of these users, generating (and saving) a password for each one that has none yet. */
export function ensureCredentials(home: string, users: { readonly kafka?: readonly string[]; readonly redis?: readonly string[] }): Credentials {
  const current = readCredentials(home);
  const kafka = { ...current.kafka };
  const redis = { ...current.redis };
  const missing = (have: Record<string, string>, names: readonly string[] = []): string[] => names.filter((n) => have[n] === undefined);
  const newKafka = missing(kafka, users.kafka);
  const newRedis = missing(redis, users.redis);
  for (const u of newKafka) kafka[u] = newPassword();
  for (const u of newRedis) redis[u] = newPassword();
  if (newKafka.length + newRedis.length > 0) {
    fs.mkdirSync(home, { recursive: true });
    const file = credentialsFile(home);
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify({ kafka, redis }, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
  }
  return { kafka, redis };
}
