// The local signing key: an ES256 key pair generated once into
// <STACK_HOME>/auth/signing-key.json (git-ignored, mode 0600) and reused by
// every role process and by `npm run token`. Several processes starting at once
// race to create it; the file is written aside and linked into place, so the
// first one wins and everyone reads the same key.
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK, type KeyLike } from 'jose';

export const LOCAL_ALGORITHM = 'ES256';
const KEY_FILE = 'signing-key.json';

export interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: KeyLike | Uint8Array;
  /** The public half as a JWKS, for verification. */
  readonly jwks: JSONWebKeySet;
}

/** The public JWK of a private one (drops the private members). */
function publicJwk(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest } = jwk;
  return { ...rest, use: 'sig' };
}

export async function signingKeyFromJwk(jwk: JWK): Promise<SigningKey> {
  if (jwk.kid === undefined || jwk.alg === undefined || jwk.d === undefined) throw new Error('the signing key file must hold a private JWK with kid and alg');
  return { kid: jwk.kid, alg: jwk.alg, privateKey: await importJWK(jwk, jwk.alg), jwks: { keys: [publicJwk(jwk)] } };
}

/** A fresh key pair in memory (tests). */
export async function generateSigningKey(alg = LOCAL_ALGORITHM): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return signingKeyFromJwk({ ...jwk, alg, kid: await calculateJwkThumbprint(jwk) });
}

/** The key in `dir`, created on first use. */
export async function localSigningKey(dir: string): Promise<SigningKey> {
  const file = path.join(dir, KEY_FILE);
  try {
    return await signingKeyFromJwk(JSON.parse(await fs.readFile(file, 'utf8')) as JWK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`the local signing key ${file} could not be read`, { cause: error });
  }
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const { privateKey } = await generateKeyPair(LOCAL_ALGORITHM, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const full: JWK = { ...jwk, alg: LOCAL_ALGORITHM, kid: await calculateJwkThumbprint(jwk) };
  const aside = path.join(dir, `.${KEY_FILE}.${randomUUID()}`);
  await fs.writeFile(aside, JSON.stringify(full), { mode: 0o600 });
  try {
    await fs.link(aside, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`the local signing key ${file} could not be written`, { cause: error });
  } finally {
    await fs.unlink(aside);
  }
  return signingKeyFromJwk(JSON.parse(await fs.readFile(file, 'utf8')) as JWK);
}
