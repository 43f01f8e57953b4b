// Signing in and signing up. With the local signing key (development) a
// customer signs in with their email and staff by role; with an identity
// provider configured, everyone signs in there (provider-sign-in.tsx).
// docs/web-ui.md, "Signing in".
import { useEffect, useState } from 'preact/hooks';
import { ApiError, command, query, seg } from '../api';
import { ErrorNotice, Loading } from '../components/feedback';
import { useRoute } from '../router';
import { authConfig, devSignIn, signIn, signOut, type AuthConfig, type Session } from '../session';
import { ProviderReturn, ProviderSignIn } from './provider-sign-in';

type Mode = 'sign-in' | 'sign-up';

async function customerSignIn(email: string): Promise<void> {
  const session = await devSignIn({ role: 'customer', email });
  signIn(session, { quietly: true });
  try {
    await query(`/customers/${seg(session.subject)}`);
    signIn(session);
  } catch (err) {
    signOut();
    if (err instanceof ApiError && err.status === 404) throw new Error('There is no account with this email yet. Choose “Create an account”.', { cause: err });
    throw err;
  }
}

async function customerSignUp(name: string, email: string): Promise<void> {
  const session: Session = await devSignIn({ role: 'customer', email });
  signIn(session, { quietly: true });
  try {
    const reply = await command('/customers', { name, email });
    // The profile is there before the menu shows: the next screens read it.
    await query(`/customers/${seg(session.subject)}`, { consistency: reply.consistencyToken });
    signIn(session);
  } catch (err) {
    signOut();
    if (err instanceof ApiError && err.status === 409) throw new Error('An account with this email exists already. Choose “Sign in”.', { cause: err });
    throw err;
  }
}

export function SignIn() {
  const [config, setConfig] = useState<AuthConfig | null>(null);
  const [configError, setConfigError] = useState<Error | null>(null);
  const [mode, setMode] = useState<Mode>('sign-in');
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const route = useRoute();

  useEffect(() => {
    authConfig().then(setConfig, (e: unknown) => setConfigError(e instanceof Error ? e : new Error(String(e))));
  }, []);

  if (configError !== null) return <ErrorNotice error={configError} onRetry={() => location.reload()} />;
  if (config === null) return <Loading what="sign-in options" />;
  if (config.oidc !== undefined) {
    if (route.parts[0] === 'signed-in') return <ProviderReturn provider={config.oidc.providerName} handoff={route.params.get('handoff') ?? ''} />;
    return <ProviderSignIn provider={config.oidc.providerName} loginUrl={config.oidc.loginUrl} errorCode={route.parts[0] === 'sign-in' ? route.params.get('error') : null} />;
  }
  if (!config.devSignIn) {
    return (
      <section class="panel narrow">
        <h1>Sign in</h1>
        <p>
          This restaurant verifies tokens from an identity provider, but no login flow is configured for the web UI (WEB_OIDC_CLIENT_ID); see the web UI
          documentation.
        </p>
      </section>
    );
  }

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === 'sign-in') await customerSignIn(email);
      else await customerSignUp(name, email);
      location.hash = '#/menu';
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setBusy(false);
    }
  };

  const staff = async (role: 'kitchen' | 'courier' | 'manager'): Promise<void> => {
    setError(null);
    try {
      signIn(await devSignIn({ role }));
      location.hash = role === 'manager' ? '#/manage/menu' : `#/${role}`;
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    }
  };

  return (
    <div class="sign-in">
      <section class="panel narrow" aria-labelledby="customer-heading">
        <h1 id="customer-heading">{mode === 'sign-in' ? 'Sign in to order' : 'Create an account'}</h1>
        <div class="tabs" role="group" aria-label="Sign in or create an account">
          <button type="button" aria-pressed={mode === 'sign-in'} onClick={() => setMode('sign-in')}>
            Sign in
          </button>
          <button type="button" aria-pressed={mode === 'sign-up'} onClick={() => setMode('sign-up')}>
            Create an account
          </button>
        </div>
        <form onSubmit={(e) => void submit(e)}>
          {mode === 'sign-up' && (
            <label>
              Your name
              <input name="name" autocomplete="name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
            </label>
          )}
          <label>
            Email
            <input name="email" type="email" autocomplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          </label>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'One moment…' : mode === 'sign-in' ? 'Sign in' : 'Create account'}
          </button>
        </form>
        {error !== null && <ErrorNotice error={error} />}
        <p class="hint">Development sign-in: the local signing key stands in for an identity provider; no password is asked.</p>
      </section>
      <section class="panel narrow" aria-labelledby="staff-heading">
        <h2 id="staff-heading">Staff</h2>
        <div class="button-row">
          <button type="button" onClick={() => void staff('kitchen')}>
            Kitchen
          </button>
          <button type="button" onClick={() => void staff('courier')}>
            Courier
          </button>
          <button type="button" onClick={() => void staff('manager')}>
            Manager
          </button>
        </div>
      </section>
    </div>
  );
}
