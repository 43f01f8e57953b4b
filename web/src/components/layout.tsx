// The page frame: a skip link, the header with the places the signed-in role
// can go, and the main landmark the screens render into.
import type { ComponentChildren } from 'preact';
import { signOutEverywhere, type Session } from '../session';
import { href } from '../router';

interface NavLink {
  readonly to: string;
  readonly label: string;
  readonly match: string;
}

function linksFor(session: Session | null): NavLink[] {
  if (session === null) return [];
  const links: NavLink[] = [];
  if (session.roles.includes('customer')) links.push({ to: href('menu'), label: 'Menu', match: 'menu' }, { to: href('orders'), label: 'My orders', match: 'orders' });
  if (session.roles.includes('kitchen')) links.push({ to: href('kitchen'), label: 'Kitchen board', match: 'kitchen' });
  if (session.roles.includes('courier')) links.push({ to: href('courier'), label: 'Deliveries', match: 'courier' });
  if (session.roles.includes('manager')) links.push({ to: href('manage', 'menu'), label: 'Menu management', match: 'manage' }, { to: href('sales'), label: 'Sales', match: 'sales' });
  return links;
}

export function Layout({ session, section, children }: { session: Session | null; section: string; children: ComponentChildren }) {
  const links = linksFor(session);
  return (
    <>
      {/* Not a plain #main link: the hash is the router's. */}
      <a
        class="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href()}>
          Restaurant
        </a>
        {links.length > 0 && (
          <nav aria-label="Main">
            <ul>
              {links.map((l) => (
                <li key={l.to}>
                  <a href={l.to} aria-current={section === l.match ? 'page' : undefined}>
                    {l.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        )}
        {session !== null && (
          <div class="who">
            <span class="who-name">
              {session.roles.join(', ')} · <span class="mono">{session.subject}</span>
            </span>
            <button type="button" class="link-button" onClick={() => signOutEverywhere()}>
              Sign out
            </button>
          </div>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
