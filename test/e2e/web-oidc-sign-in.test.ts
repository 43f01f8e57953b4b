/**
 * The web UI's OIDC login against a real OpenID Connect provider (panva's
 * certified oidc-provider, test/support/oidc-provider-process.mjs) on another
 * site (localhost) than the app (127.0.0.1): authorization code with PKCE,
 * state and nonce, a confidential client, the web role as relying party. The
 * gateway and the query API verify the provider's access tokens through its
 * JWKS (AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE, AUTH_ROLES_CLAIM
 * realm_access.roles), exactly as in production.
 *
 * A manager signs in there and adds a dish; a first-time customer signs in,
 * creates their profile, orders the dish, signs out (at the provider too) and
 * back in; a declined consent, a forged callback (state mismatch) and a callback
 * this browser never started each end on the sign-in screen with a readable
 * message.
 */
import type { Browser, Page } from 'playwright-core';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { unique } from '../support/kafka';
import { freePort, startRole, type RoleProcess } from '../../app/chaos/role-process';
import { startOidcProvider, type RunningOidcProvider } from '../support/oidc-provider';
import { launchBrowser, openPage, screenshot, type WatchedPage } from '../support/browser';

jest.setTimeout(300_000);

const run = unique('web-oidc');
const PROVIDER = 'Test ID';
const CUSTOMER = `ada-${run}`;
const MANAGER = `grace-${run}`;
const NOBODY = `nobody-${run}`;
const DISH = `Ravioli ${run}`;

let provider: RunningOidcProvider;
let stack: RoleProcess;
let browser: Browser;
let web: string;
const pages: WatchedPage[] = [];
/** Every answer of 400 or above any page got: `<status> <origin><path>`. */
const failedResponses: string[] = [];

beforeAll(async () => {
  const webPort = await freePort();
  web = `http://127.0.0.1:${webPort}`;
  [provider, browser] = await Promise.all([
    startOidcProvider({
      clients: [{ client_id: 'restaurant-web', client_secret: `secret-${run}`, redirect_uris: [`${web}/auth/callback`], post_logout_redirect_uris: [`${web}/`] }],
      accounts: {
        [CUSTOMER]: { name: 'Ada Lovelace', email: `${run}@example.com`, roles: ['customer', 'offline_access'] },
        [MANAGER]: { name: 'Grace Hopper', email: `grace-${run}@example.com`, roles: ['manager'] },
        [NOBODY]: { name: 'No Body', email: `nobody-${run}@example.com`, roles: [] },
      },
      audience: 'restaurant',
      resource: 'urn:restaurant:api',
      rolesClaim: ['realm_access', 'roles'],
    }),
    launchBrowser(),
  ]);
  stack = await startRole('all', {
    WEB_PORT: String(webPort),
    AUTH_JWKS_URL: provider.jwksUrl,
    AUTH_ISSUER: provider.issuer,
    AUTH_AUDIENCE: 'restaurant',
    AUTH_ROLES_CLAIM: 'realm_access.roles',
    WEB_OIDC_CLIENT_ID: 'restaurant-web',
    WEB_OIDC_CLIENT_SECRET: `secret-${run}`,
    WEB_OIDC_PROVIDER_NAME: PROVIDER,
  });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await provider?.stop();
});

/** A new person's tab on the sign-in page. The provider's pages ask for a web font: answered here, so nothing leaves the machine. */
async function person(): Promise<WatchedPage> {
  const watched = await openPage(browser, web);
  await watched.context.route('https://fonts.googleapis.com/**', (route) => route.fulfill({ status: 200, contentType: 'text/css', body: '' }));
  watched.page.on('response', (response) => {
    if (response.status() >= 400) failedResponses.push(`${response.status()} ${new URL(response.url()).origin}${new URL(response.url()).pathname}`);
  });
  pages.push(watched);
  return watched;
}

/** From the app's sign-in screen to the provider's login page. */
async function toProviderLogin(page: Page): Promise<void> {
  await page.getByRole('link', { name: `Sign in with ${PROVIDER}` }).click();
  await page.waitForURL((url) => url.origin === provider.issuer);
  await page.locator('input[name="login"]').waitFor();
}

/** The provider's own login (and, the first time, consent) pages. */
async function loginAtProvider(page: Page, login: string): Promise<void> {
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  const consent = page.getByRole('button', { name: 'Continue' });
  await Promise.race([consent.waitFor(), page.waitForURL((url) => url.origin === web)]);
  if (new URL(page.url()).origin !== web) await consent.click();
  await page.waitForURL((url) => url.origin === web);
}

function sessionOf(page: Page): Promise<{ token: string; subject: string; roles: string[] } | null> {
  return page.evaluate(`JSON.parse(sessionStorage.getItem('restaurant.session'))`) as Promise<{ token: string; subject: string; roles: string[] } | null>;
}

it('a manager signs in at the provider and adds a dish', async () => {
  const { page } = await person();
  await page.getByRole('link', { name: `Sign in with ${PROVIDER}` }).waitFor();
  await screenshot(page, 'sign-in-oidc');
  // No development sign-in where a provider is configured.
  expect(await page.getByRole('button', { name: 'Manager', exact: true }).count()).toBe(0);
  await toProviderLogin(page);
  await loginAtProvider(page, MANAGER);
  const form = page.getByRole('form', { name: 'Add a dish' });
  await form.getByLabel('Name').fill(DISH);
  await form.getByLabel('Price (EUR)').fill('12.5');
  await form.getByRole('button', { name: 'Add to the menu' }).click();
  await page.locator(`tr[data-menu-item="${DISH}"]`).waitFor();

  // The token the tab sends is the provider's: its issuer, its ES256 key, the role from realm_access.roles.
  const session = await sessionOf(page);
  expect(session?.subject).toBe(MANAGER);
  expect(session?.roles).toEqual(['manager']);
  const claims = decodeJwt(session?.token ?? '');
  expect(claims.iss).toBe(provider.issuer);
  expect(claims.aud).toBe('restaurant');
  expect(decodeProtectedHeader(session?.token ?? '').alg).toBe('ES256');
});

it('a first-time customer signs in at the provider, creates their profile, orders, signs out and back in', async () => {
  const { page } = await person();
  await toProviderLogin(page);
  await loginAtProvider(page, CUSTOMER);

  // First visit: the profile, filled from the provider's ID token.
  await page.getByRole('heading', { name: 'Create your profile' }).waitFor();
  expect(await page.getByLabel('Your name').inputValue()).toBe('Ada Lovelace');
  expect(await page.getByLabel('Email').inputValue()).toBe(`${run}@example.com`);
  await screenshot(page, 'oidc-create-profile');
  await page.getByRole('button', { name: 'Create profile' }).click();
  await page.getByRole('heading', { name: 'Menu', level: 1 }).waitFor();
  expect((await sessionOf(page))?.subject).toBe(CUSTOMER);

  // Ordering goes through the gateway and the query API with the provider's token.
  await page.getByRole('button', { name: 'Start an order' }).click();
  await page.locator(`li[data-menu-item="${DISH}"]`).getByRole('button', { name: `Add ${DISH} to the order` }).click();
  await page.getByTestId('order-total').getByText('€12.50').waitFor();
  await page.getByLabel('Street and number').fill('Kalverstraat 10');
  await page.getByLabel('Postal code').fill('1012 PC');
  await page.getByLabel('City').fill('Amsterdam');
  await page.getByLabel('Country code (e.g. NL)').fill('NL');
  await page.getByRole('button', { name: 'Deliver here' }).click();
  await page.getByTestId('delivery-address').waitFor();
  await page.getByRole('button', { name: 'Place order' }).click();
  await page.locator('.timeline [data-step="placed"][data-state="done"]').waitFor();

  // Sign out: the tab forgets its token, and the provider's session ends too (its confirmation page).
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((url) => url.origin === provider.issuer);
  await page.getByRole('button', { name: /Yes, sign me out/i }).click();
  await page.getByRole('link', { name: `Sign in with ${PROVIDER}` }).waitFor();
  expect(await sessionOf(page)).toBeNull();

  // Back in: the provider asks again (its session ended); the profile exists, so the menu shows straight away.
  await toProviderLogin(page);
  await loginAtProvider(page, CUSTOMER);
  await page.getByRole('heading', { name: 'Menu', level: 1 }).waitFor();
  expect(await page.getByRole('heading', { name: 'Create your profile' }).count()).toBe(0);
  // Their past orders, read from the query API with the new token.
  await page.getByRole('link', { name: 'My orders' }).click();
  await page.getByRole('heading', { name: 'My orders', level: 1 }).waitFor();
  await page.getByText('€12.50').first().waitFor();
});

it('declining at the provider ends on the sign-in screen, saying so', async () => {
  const { page } = await person();
  await toProviderLogin(page);
  await page.getByRole('link', { name: '[ Cancel ]' }).click();
  await page.waitForURL((url) => url.origin === web);
  await page.getByRole('alert').filter({ hasText: `You did not allow ${PROVIDER} to sign you in` }).waitFor();
  await page.getByRole('link', { name: `Sign in with ${PROVIDER}` }).waitFor();
  await screenshot(page, 'sign-in-oidc-denied');
  expect(await sessionOf(page)).toBeNull();
});

it('a forged callback (state mismatch) is refused with a readable message, and no one is signed in', async () => {
  const { page } = await person();
  // This browser started a login; an attacker's callback carries a code and a state of their own.
  await toProviderLogin(page);
  const startedLogin = page.url();
  await page.goto(`${web}/auth/callback?code=forged-code&state=${'f'.repeat(43)}&iss=${encodeURIComponent(provider.issuer)}`);
  await page.getByRole('alert').filter({ hasText: 'its state did not match' }).waitFor();
  expect(await sessionOf(page)).toBeNull();

  // The login this browser did start can still finish.
  await page.goto(startedLogin);
  await loginAtProvider(page, MANAGER);
  await page.getByRole('heading', { name: 'Menu management', level: 1 }).waitFor();
  expect((await sessionOf(page))?.subject).toBe(MANAGER);

  // A callback in a browser that started no login (or one that took too long).
  const other = (await person()).page;
  await other.goto(`${web}/auth/callback?code=another&state=${'a'.repeat(43)}`);
  await other.getByRole('alert').filter({ hasText: 'took too long or was started in another browser' }).waitFor();
  expect(await sessionOf(other)).toBeNull();
});

it('an account with no role at the restaurant is told so', async () => {
  const { page } = await person();
  await toProviderLogin(page);
  await loginAtProvider(page, NOBODY);
  await page.getByRole('alert').filter({ hasText: 'has no role at this restaurant' }).waitFor();
  expect(await sessionOf(page)).toBeNull();
});

it('no page logged a console error or threw', () => {
  expect(pages.length).toBe(6);
  // The one failed request: the first-time customer's profile, looked for before it was created (the browser reports that 404 itself).
  expect(failedResponses).toEqual([`404 ${web}/api/query/customers/${CUSTOMER}`]);
  expect(pages.flatMap((p) => p.problems)).toEqual(['console: Failed to load resource: the server responded with a status of 404 (Not Found)']);
});
