// The CPU cost of token verification alone, in this process: microseconds per
// request for a token seen for the first time (signature checked with jose) and
// for a token verified before (the cache), measured without the stack so that
// a busy machine skews it less than the end-to-end comparison.
import { performance } from 'node:perf_hooks';
import { createVerifier, localJwks } from '../infra/auth/authenticator';
import { mintToken } from '../infra/auth/local-issuer';
import type { SigningKey } from '../infra/auth/local-keys';
import { DEFAULT_ALGORITHMS, DEFAULT_AUDIENCE, LOCAL_ISSUER } from '../infra/auth/settings';

export interface VerificationCost {
  /** Microseconds per first-time verification (signature, claims). */
  readonly firstUs: number;
  /** Microseconds per verification of a token verified before. */
  readonly cachedUs: number;
}

export async function verificationCost(key: SigningKey, tokens = 2000, cachedRounds = 10): Promise<VerificationCost> {
  const verifier = createVerifier(localJwks(key.jwks), { issuer: LOCAL_ISSUER, audience: DEFAULT_AUDIENCE, rolesClaim: ['roles'], clockSkewSeconds: 30, algorithms: DEFAULT_ALGORITHMS });
  const headers: string[] = [];
  for (let i = 0; i < tokens; i += 1) headers.push(`Bearer ${await mintToken(key, { subject: `cost-${i}`, roles: ['customer'] })}`);
  const time = async (): Promise<number> => {
    const start = performance.now();
    for (const header of headers) {
      const result = await verifier.authenticate(header);
      if (!result.ok) throw new Error(`verification failed: ${result.description}`);
    }
    return ((performance.now() - start) * 1000) / headers.length;
  };
  const firstUs = await time();
  let cached = 0;
  for (let round = 0; round < cachedRounds; round += 1) cached += await time();
  return { firstUs, cachedUs: cached / cachedRounds };
}
