// Choosing the delivery address: one of the customer's saved addresses, or a
// new one typed in (sent with the order; saving it to the profile is optional).
import { useState } from 'preact/hooks';
import { formatAddress } from '../format';
import type { Address, Customer } from '../types';

const EMPTY: Address = { line1: '', line2: null, city: '', postalCode: '', country: '' };

export function AddressForm({ customer, busy, onChoose }: { customer: Customer | undefined; busy: boolean; onChoose: (address: Address, save: boolean) => void }) {
  const saved = customer?.addresses ?? [];
  const [choice, setChoice] = useState<string>(saved[0]?.addressId ?? 'new');
  const [draft, setDraft] = useState<Address>(EMPTY);
  const [save, setSave] = useState(true);
  const field = (key: keyof Address, label: string, extra: Record<string, string | number | boolean> = {}) => (
    <label>
      {label}
      <input
        name={key}
        value={draft[key] ?? ''}
        required={key !== 'line2'}
        {...extra}
        onInput={(e) => {
          const value = e.currentTarget.value;
          setDraft((d) => ({ ...d, [key]: key === 'line2' && value === '' ? null : key === 'country' ? value.toUpperCase() : value }));
        }}
      />
    </label>
  );
  const submit = (e: Event): void => {
    e.preventDefault();
    const picked = saved.find((s) => s.addressId === choice);
    if (picked !== undefined) onChoose(picked.address, false);
    else onChoose(draft, save);
  };
  return (
    <form class="address-form" onSubmit={submit} aria-label="Delivery address">
      {saved.length > 0 && (
        <fieldset>
          <legend>Deliver to</legend>
          {saved.map((s) => (
            <label class="radio" key={s.addressId}>
              <input type="radio" name="address-choice" value={s.addressId} checked={choice === s.addressId} onChange={() => setChoice(s.addressId)} />
              {formatAddress(s.address)}
            </label>
          ))}
          <label class="radio">
            <input type="radio" name="address-choice" value="new" checked={choice === 'new'} onChange={() => setChoice('new')} />A new address
          </label>
        </fieldset>
      )}
      {choice === 'new' && (
        <div class="address-fields">
          {field('line1', 'Street and number', { autocomplete: 'address-line1', maxLength: 200 })}
          {field('line2', 'Apartment, floor (optional)', { autocomplete: 'address-line2', maxLength: 200 })}
          {field('postalCode', 'Postal code', { autocomplete: 'postal-code', maxLength: 200 })}
          {field('city', 'City', { autocomplete: 'address-level2', maxLength: 200 })}
          {field('country', 'Country code (e.g. NL)', { autocomplete: 'country', maxLength: 2, minLength: 2, pattern: '[A-Za-z]{2}' })}
          <label class="checkbox">
            <input type="checkbox" checked={save} onChange={(e) => setSave(e.currentTarget.checked)} />
            Save this address for next time
          </label>
        </div>
      )}
      <button type="submit" disabled={busy}>
        Deliver here
      </button>
    </form>
  );
}
