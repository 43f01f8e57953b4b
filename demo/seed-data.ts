// What the demo restaurant serves and who eats there: a fixed menu and
// customers drawn from the seed (names, e-mail addresses, delivery addresses).
import type { Random } from './random';

export type Category = 'STARTER' | 'MAIN' | 'SIDE' | 'DESSERT' | 'DRINK';

export interface DemoMenuItem {
  readonly name: string;
  readonly description: string;
  readonly category: Category;
  readonly priceMinor: number;
}

export const CURRENCY = 'EUR';

export const DEMO_MENU: readonly DemoMenuItem[] = [
  { name: 'Bruschetta', description: 'Grilled bread, tomato, basil, garlic', category: 'STARTER', priceMinor: 650 },
  { name: 'Burrata', description: 'Burrata, cherry tomatoes, olive oil', category: 'STARTER', priceMinor: 950 },
  { name: 'Minestrone', description: 'Vegetable soup with pasta', category: 'STARTER', priceMinor: 700 },
  { name: 'Margherita', description: 'Tomato, mozzarella, basil', category: 'MAIN', priceMinor: 950 },
  { name: 'Diavola', description: 'Tomato, mozzarella, spicy salami', category: 'MAIN', priceMinor: 1150 },
  { name: 'Quattro formaggi', description: 'Four cheeses', category: 'MAIN', priceMinor: 1250 },
  { name: 'Spaghetti carbonara', description: 'Guanciale, egg, pecorino', category: 'MAIN', priceMinor: 1300 },
  { name: 'Lasagne', description: 'Beef ragù, béchamel', category: 'MAIN', priceMinor: 1400 },
  { name: 'Risotto ai funghi', description: 'Porcini, parmesan', category: 'MAIN', priceMinor: 1450 },
  { name: 'Rocket salad', description: 'Rocket, parmesan, lemon', category: 'SIDE', priceMinor: 500 },
  { name: 'Rosemary potatoes', description: 'Roasted, with sea salt', category: 'SIDE', priceMinor: 450 },
  { name: 'Tiramisù', description: 'Mascarpone, coffee, cocoa', category: 'DESSERT', priceMinor: 650 },
  { name: 'Panna cotta', description: 'With berry coulis', category: 'DESSERT', priceMinor: 600 },
  { name: 'Lemonade', description: 'Home-made', category: 'DRINK', priceMinor: 350 },
  { name: 'Sparkling water', description: '0.5 l', category: 'DRINK', priceMinor: 250 },
  { name: 'Espresso', description: 'Single shot', category: 'DRINK', priceMinor: 200 },
];

export interface DemoAddress {
  readonly line1: string;
  readonly line2: string | null;
  readonly city: string;
  readonly postalCode: string;
  readonly country: string;
}

export interface DemoCustomer {
  readonly name: string;
  readonly email: string;
  readonly address: DemoAddress;
}

const FIRST = ['Ada', 'Alan', 'Grace', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Ken', 'Frances', 'Dennis', 'Radia', 'Niklaus', 'Sophie', 'Tim', 'Katherine', 'Linus', 'Hedy', 'John', 'Lynn', 'Guido'];
const LAST = ['Lovelace', 'Turing', 'Hopper', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Thompson', 'Allen', 'Ritchie', 'Perlman', 'Wirth', 'Wilson', 'Berners-Lee', 'Johnson', 'Torvalds', 'Lamarr', 'Backus', 'Conway', 'van Rossum'];
const STREETS = ['Canal Street', 'Market Square', 'Station Road', 'Elm Avenue', 'Harbour Lane', 'Mill Road', 'Park Terrace', 'Church Street'];
const CITIES: ReadonlyArray<{ city: string; postalCode: string }> = [
  { city: 'Amsterdam', postalCode: '1012' },
  { city: 'Utrecht', postalCode: '3511' },
  { city: 'Haarlem', postalCode: '2011' },
];

/**
 * `count` customers for this seed. E-mail addresses carry the seed and the
 * customer's number, so they are unique per seed (sign-up refuses an address
 * that is taken) and the same seed signs up the same people again.
 */
export function demoCustomers(random: Random, count: number, seed: string): DemoCustomer[] {
  const tag = seed.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'demo';
  return Array.from({ length: count }, (_, i) => {
    const first = random.pick(FIRST);
    const last = random.pick(LAST);
    const place = random.pick(CITIES);
    return {
      name: `${first} ${last}`,
      email: `${first}.${last}.${i + 1}@${tag}.demo.example`.toLowerCase().replace(/[^a-z0-9.@-]/g, ''),
      address: {
        line1: `${random.int(1, 240)} ${random.pick(STREETS)}`,
        line2: random.chance(0.3) ? `Flat ${random.int(1, 30)}` : null,
        city: place.city,
        postalCode: `${place.postalCode} ${String.fromCharCode(65 + random.int(0, 25))}${String.fromCharCode(65 + random.int(0, 25))}`,
        country: 'NL',
      },
    };
  });
}
