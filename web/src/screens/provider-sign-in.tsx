// Signing in with an identity provider (OIDC, where configured): the web role
// runs the login (/auth/login ... /auth/callback, docs/web-ui.md) and sends the
// browser back to #/signed-in?handoff=<id>, where this tab collects its session once; a
// customer's first visit then creates their profile, as the development
// sign-up does. A failed login comes back as #/sign-in?error=<code>.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, command, query, seg } from '../api';
import { ErrorNotice, Loading } from '../components/feedback';
import { collectProviderSession, signIn, signOut, signOutEverywhere, type Session } from '../session';
import { signInErrorMessage } from '../sign-in-errors';

/** Signed in: show the role's start page (App sends `#/` there). */
function enter(session: Session): void {
  history.replaceState(null, '', '#/');
  signIn(session);
}

export function ProviderSignIn({ provider, loginUrl, errorCode }: { provider: string; loginUrl: string; errorCode: string | null }) {
  return (
    <section class="panel narrow" aria-labelledby="sign-in-heading">
      <h1 id="sign-in-heading">Sign in</h1>
      {errorCode !== null && <ErrorNotice error={new Error(signInErrorMessage(errorCode, provider))} />}
      <p>Customers and staff sign in with their {provider} account. New customers create their profile right after.</p>
      <p>
        <a class="button-link" href={loginUrl}>
          Sign in with {provider}
        </a>
      </p>
    </section>
  );
}

type Return = { readonly step: 'collecting' } | { readonly step: 'profile'; readonly session: Session } | { readonly step: 'failed'; readonly error: Error };

export function ProviderReturn({ provider, handoff }: { provider: string; handoff: string }) {
  const [state, setState] = useState<Return>({ step: 'collecting' });
  useEffect(() => {
    void (async () => {
      try {
        const session = await collectProviderSession(handoff);
        if (!session.roles.includes('customer')) return enter(session);
        signIn(session, { quietly: true });
        try {
          await query(`/customers/${seg(session.subject)}`);
          enter(session);
        } catch (err) {
          if (err instanceof ApiError && err.status === 404) return setState({ step: 'profile', session });
          signOut();
          throw err;
        }
      } catch (err) {
        setState({ step: 'failed', error: err instanceof Error ? err : new Error(String(err)) });
      }
    })();
  }, []);

  if (state.step === 'collecting') return <Loading what="your sign-in" />;
  if (state.step === 'failed') {
    return (
      <section class="panel narrow" aria-labelledby="sign-in-heading">
        <h1 id="sign-in-heading">Sign in</h1>
        <ErrorNotice error={state.error} />
        <p>
          <a href="#/">Start again</a>
        </p>
      </section>
    );
  }
  return <CreateProfile session={state.session} provider={provider} />;
}

/** A first-time customer: the profile the restaurant keeps (name, email), filled from the provider's ID token. */
function CreateProfile({ session, provider }: { session: Session; provider: string }) {
  const [name, setName] = useState(session.profile?.name ?? '');
  const [email, setEmail] = useState(session.profile?.email ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const reply = await command('/customers', { name, email });
      // The profile is there before the menu shows: the next screens read it.
      await query(`/customers/${seg(session.subject)}`, { consistency: reply.consistencyToken });
      enter(session);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) setError(new Error('Another account uses this email already. Use another email, or sign in with the account that has it.', { cause: err }));
      else setError(err instanceof Error ? err : new Error(String(err)));
      setBusy(false);
    }
  };

  return (
    <section class="panel narrow" aria-labelledby="profile-heading">
      <h1 id="profile-heading">Create your profile</h1>
      <p>You signed in with {provider} for the first time. Tell the restaurant who to deliver to.</p>
      <form onSubmit={(e) => void submit(e)}>
        <label>
          Your name
          <input name="name" autocomplete="name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Email
          <input name="email" type="email" autocomplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'One moment…' : 'Create profile'}
        </button>
      </form>
      {error !== null && <ErrorNotice error={error} />}
      <p class="hint">
        <button
          type="button"
          class="link-button"
          onClick={() => signOutEverywhere()}
        >
          Cancel and sign out
        </button>
      </p>
    </section>
  );
}
