import {
  emailReservationDecider,
  evolve,
  fromSnapshot,
  initialState,
  normalizeEmail,
  toSnapshot,
} from '../../../../producers/email/email-reservation.decider';
import { evolveAll } from '../../../../producers/shared/decider';
import type { EmailReservationEvent } from '../../../../schemas/messages';
import { actor, deciderSpec } from '../../../support/decider-spec';

const { given } = deciderSpec(emailReservationDecider, {}, 'ada@example.com');

const reservedByAda: EmailReservationEvent = { type: 'EmailReserved', data: { customerId: 'c-ada' } };
const releasedByAda: EmailReservationEvent = { type: 'EmailReleased', data: { customerId: 'c-ada' } };

describe('normalizeEmail', () => {
  it('trims and lower-cases, so case variants share one reservation', () => {
    expect(normalizeEmail('  Ada@Example.COM ')).toBe('ada@example.com');
  });
});

describe('ReserveEmail', () => {
  it('reserves a free address', () => {
    given([]).when({ type: 'ReserveEmail', data: { customerId: 'c-ada' } }).then([reservedByAda]);
  });
  it('reserves an address again after it was released', () => {
    given([reservedByAda, releasedByAda]).when({ type: 'ReserveEmail', data: { customerId: 'c-bob' } }).then([{ type: 'EmailReserved', data: { customerId: 'c-bob' } }]);
  });
  it('is idempotent for the holder: accepted, nothing new', () => {
    given([reservedByAda]).when({ type: 'ReserveEmail', data: { customerId: 'c-ada' } }).thenNothing();
  });
  it('rejects another customer while held', () => {
    given([reservedByAda]).when({ type: 'ReserveEmail', data: { customerId: 'c-bob' } }).thenRejects('email_taken');
  });
  it('rejects an invalid customer id', () => {
    given([]).when({ type: 'ReserveEmail', data: { customerId: '' } }).thenRejects('invalid_customer_id');
  });
});

describe('ReleaseEmail', () => {
  it('releases the holder’s reservation', () => {
    given([reservedByAda]).when({ type: 'ReleaseEmail', data: { customerId: 'c-ada' } }).then([releasedByAda]);
  });
  it('rejects releasing a never-reserved address', () => {
    given([]).when({ type: 'ReleaseEmail', data: { customerId: 'c-ada' } }).thenRejects('email_not_reserved');
  });
  it('rejects releasing an already released address', () => {
    given([reservedByAda, releasedByAda]).when({ type: 'ReleaseEmail', data: { customerId: 'c-ada' } }).thenRejects('email_not_reserved');
  });
  it('rejects a release by someone who is not the holder', () => {
    given([reservedByAda]).when({ type: 'ReleaseEmail', data: { customerId: 'c-bob' } }).thenRejects('not_reservation_holder');
  });
});

describe('email reservation state and snapshots', () => {
  it('round-trips a held reservation through its snapshot', () => {
    const state = evolveAll(evolve, initialState, [reservedByAda]);
    const snapshot = toSnapshot('ada@example.com', 1, state);
    expect(snapshot).toEqual({ email: 'ada@example.com', version: 1, holderCustomerId: 'c-ada' });
    if (snapshot !== null) expect(fromSnapshot(snapshot)).toEqual({ aggregateId: 'ada@example.com', version: 1, state });
  });
  it('round-trips a released reservation (free again, history kept)', () => {
    const state = evolveAll(evolve, initialState, [reservedByAda, releasedByAda]);
    const snapshot = toSnapshot('ada@example.com', 2, state);
    expect(snapshot).toEqual({ email: 'ada@example.com', version: 2, holderCustomerId: null });
  });
  it('has no snapshot before anything happened', () => {
    expect(toSnapshot('ada@example.com', 0, initialState)).toBeNull();
  });
});

describe('who may act on an email reservation', () => {
  const ada = actor('c-ada', 'customer');
  const bob = actor('c-bob', 'customer');

  it('lets a customer reserve an address for themself', () => {
    given([]).as(ada).when({ type: 'ReserveEmail', data: { customerId: 'c-ada' } }).then([reservedByAda]);
  });
  it('forbids a customer to reserve an address for another customer', () => {
    given([]).as(bob).when({ type: 'ReserveEmail', data: { customerId: 'c-ada' } }).thenRejects('forbidden');
  });
  it('lets a customer release their own reservation', () => {
    given([reservedByAda]).as(ada).when({ type: 'ReleaseEmail', data: { customerId: 'c-ada' } }).then([releasedByAda]);
  });
  it("forbids a customer to release another customer's reservation", () => {
    given([reservedByAda]).as(bob).when({ type: 'ReleaseEmail', data: { customerId: 'c-ada' } }).thenRejects('forbidden');
  });
  it('lets an admin reserve and release for anyone', () => {
    given([]).as(actor('admin-1', 'admin')).when({ type: 'ReserveEmail', data: { customerId: 'c-ada' } }).then([reservedByAda]);
    given([reservedByAda]).as(actor('admin-1', 'admin')).when({ type: 'ReleaseEmail', data: { customerId: 'c-ada' } }).then([releasedByAda]);
  });
  it.each(['kitchen', 'courier', 'manager', 'system'])('forbids %s', (role) => {
    given([]).as(actor('someone', role)).when({ type: 'ReserveEmail', data: { customerId: 'someone' } }).thenRejects('forbidden');
  });
  it('trusts a command without an actor', () => {
    given([]).as(null).when({ type: 'ReserveEmail', data: { customerId: 'c-ada' } }).then([reservedByAda]);
  });
});
