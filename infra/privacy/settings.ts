// Where the privacy secrets come from (docs/privacy.md):
//
//   PRIVACY_MASTER_KEY     base64 of 32 bytes: wraps every customer's data key
//   PRIVACY_EMAIL_SECRET   base64 of at least 32 bytes: keys the HMAC that names e-mail reservations
//   PRIVACY_ENCRYPTION     "on" (default) or "off" (the gateway writes plaintext: benchmarks, migrations)
//
// In production a KMS or secret store puts them in the environment (or a file
// mounted by it: PRIVACY_MASTER_KEY_FILE, PRIVACY_EMAIL_SECRET_FILE, each
// holding the base64 text). Locally, without either, both are generated once
// into <STACK_HOME>/privacy/ (git-ignored, mode 0600), like the local signing
// key, and every role process reads the same files.
import { randomBytes, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readStackSettings } from '../stack/settings';
import { KEY_BYTES, masterKey, type MasterKey } from './crypto';

type Env = Readonly<Record<string, string | undefined>>;

export interface PrivacySecrets {
  readonly encryption: boolean;
  readonly master: MasterKey;
  readonly emailSecret: Buffer;
}

function decode(name: string, text: string, minBytes: number, maxBytes: number): Buffer {
  const bytes = Buffer.from(text.trim(), 'base64');
  if (bytes.length < minBytes || bytes.length > maxBytes) {
    throw new Error(`${name} must be base64 of ${minBytes === maxBytes ? minBytes : `${minBytes}-${maxBytes}`} bytes, got ${bytes.length}`);
  }
  return bytes;
}

/** The secret in `file`, created with fresh random bytes when absent (the first of racing processes wins). */
async function localSecret(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`the local secret ${file} could not be read`, { cause: error });
  }
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const aside = `${file}.${randomUUID()}`;
  await fs.writeFile(aside, randomBytes(KEY_BYTES).toString('base64'), { mode: 0o600 });
  try {
    await fs.link(aside, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`the local secret ${file} could not be written`, { cause: error });
  } finally {
    await fs.unlink(aside);
  }
  return fs.readFile(file, 'utf8');
}

async function secret(env: Env, name: string, localFile: string): Promise<string> {
  const direct = env[name];
  if (direct !== undefined && direct !== '') return direct;
  const file = env[`${name}_FILE`];
  if (file !== undefined && file !== '') {
    try {
      return await fs.readFile(file, 'utf8');
    } catch (error) {
      throw new Error(`${name}_FILE ${file} could not be read`, { cause: error });
    }
  }
  return localSecret(localFile);
}

export async function privacySecrets(env: Env = process.env): Promise<PrivacySecrets> {
  const encryption = env.PRIVACY_ENCRYPTION ?? 'on';
  if (encryption !== 'on' && encryption !== 'off') throw new Error(`PRIVACY_ENCRYPTION must be "on" or "off", got ${JSON.stringify(encryption)}`);
  const dir = path.join(readStackSettings(env).home, 'privacy');
  const master = decode('PRIVACY_MASTER_KEY', await secret(env, 'PRIVACY_MASTER_KEY', path.join(dir, 'master.key')), KEY_BYTES, KEY_BYTES);
  const emailSecret = decode('PRIVACY_EMAIL_SECRET', await secret(env, 'PRIVACY_EMAIL_SECRET', path.join(dir, 'email.key')), KEY_BYTES, 1024);
  return { encryption: encryption === 'on', master: masterKey(master), emailSecret };
}
