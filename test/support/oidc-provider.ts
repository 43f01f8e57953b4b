// Starts the test OIDC provider (oidc-provider-process.mjs: panva's certified
// oidc-provider, ESM-only, so a child process) on a free loopback port, and
// stops it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../app/chaos/role-process';

export interface TestAccount {
  readonly name: string;
  readonly email: string;
  readonly roles: readonly string[];
}

export interface TestClient {
  readonly client_id: string;
  readonly client_secret?: string;
  readonly redirect_uris: readonly string[];
  readonly post_logout_redirect_uris: readonly string[];
}

export interface OidcProviderSetup {
  readonly clients: readonly TestClient[];
  /** By login (which is also the subject). */
  readonly accounts: Readonly<Record<string, TestAccount>>;
  /** The access token's `aud` (AUTH_AUDIENCE). */
  readonly audience: string;
  /** The resource indicator the access tokens are for. */
  readonly resource: string;
  /** Where the roles go in the access token (AUTH_ROLES_CLAIM, split at dots). */
  readonly rolesClaim: readonly string[];
  /** The issuer's host name (default localhost: another site than the app's 127.0.0.1). */
  readonly host?: string;
}

export interface RunningOidcProvider {
  readonly issuer: string;
  readonly jwksUrl: string;
  readonly port: number;
  output(): string;
  stop(): Promise<void>;
}

export async function startOidcProvider(setup: OidcProviderSetup, port?: number): Promise<RunningOidcProvider> {
  const listenPort = port ?? (await freePort());
  const host = setup.host ?? 'localhost';
  const child = spawn(process.execPath, [path.join(__dirname, 'oidc-provider-process.mjs')], {
    env: { ...process.env, NODE_ENV: 'test', OIDC_TEST_SETUP: JSON.stringify({ ...setup, host, port: listenPort }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const issuer = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the test OIDC provider did not start within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-20_000);
      const ready = /^ready (\S+)$/m.exec(output);
      if (ready?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(ready[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the test OIDC provider exited with ${code}:\n${output}`));
    });
  });
  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    port: listenPort,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
