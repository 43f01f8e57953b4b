// The screens, chosen by the hash route and the signed-in role.
import { useEffect } from 'preact/hooks';
import { Layout } from './components/layout';
import { parseHash, useRoute } from './router';
import { CourierScreen } from './screens/courier';
import { HistoryScreen } from './screens/history';
import { KitchenScreen } from './screens/kitchen';
import { ManageMenuScreen } from './screens/manage-menu';
import { MenuScreen } from './screens/menu';
import { OrderScreen } from './screens/order';
import { SalesScreen } from './screens/sales';
import { SignIn } from './screens/sign-in';
import { hasRole, useSession, type Session } from './session';

/** Where a role starts. */
function home(session: Session): string {
  if (hasRole(session, 'customer')) return '#/menu';
  if (hasRole(session, 'kitchen')) return '#/kitchen';
  if (hasRole(session, 'courier')) return '#/courier';
  if (hasRole(session, 'manager')) return '#/manage/menu';
  return '#/';
}

function NotAllowed() {
  return (
    <section>
      <h1>Not for your role</h1>
      <p>This page belongs to another role. Use the links above, or sign out and sign in as someone else.</p>
    </section>
  );
}

function Screen({ session }: { session: Session }) {
  const { parts, params } = useRoute();
  const [first, second] = parts;
  const as = (role: Parameters<typeof hasRole>[1], screen: preact.JSX.Element): preact.JSX.Element => (hasRole(session, role) ? screen : <NotAllowed />);
  switch (first) {
    case 'menu':
      return as('customer', <MenuScreen session={session} />);
    case 'orders': {
      if (second !== undefined) return <OrderScreen orderId={second} key={second} />;
      const offset = Number(params.get('offset') ?? '0');
      return as('customer', <HistoryScreen session={session} offset={Number.isSafeInteger(offset) && offset >= 0 ? offset : 0} />);
    }
    case 'kitchen':
      return as('kitchen', <KitchenScreen />);
    case 'courier':
      return as('courier', <CourierScreen />);
    case 'manage':
      return as('manager', <ManageMenuScreen />);
    case 'sales':
      return as('manager', <SalesScreen />);
    default:
      return (
        <section>
          <h1>Page not found</h1>
          <p>
            <a href={home(session)}>Go to your start page</a>
          </p>
        </section>
      );
  }
}

export function App() {
  const session = useSession();
  const route = useRoute();
  // Signed in on the start page: go where the role works.
  useEffect(() => {
    if (session !== null && parseHash(location.hash).parts.length === 0) location.replace(home(session));
  }, [session, route]);
  // Each screen's title says where the user is.
  useEffect(() => {
    const place = route.parts[0];
    document.title = place === undefined || session === null ? 'Restaurant' : `${place[0]?.toUpperCase()}${place.slice(1)} · Restaurant`;
  }, [route, session]);
  return (
    <Layout session={session} section={route.parts[0] ?? ''}>
      {session === null ? <SignIn /> : <Screen session={session} />}
    </Layout>
  );
}
