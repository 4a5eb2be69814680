/**
 * A seeded corpus of realistic ~1 KiB JSON events: orders placed in a shop,
 * with ids, a customer, a shipping address, line items, timestamps and
 * amounts. Every field varies from event to event, so compression sees what
 * it would see in production (shared key names and vocabulary, varying
 * values), not repeated characters. The same seed gives the same corpus.
 */

/** One generated event: its partition key (the order id) and its JSON value. */
export interface CorpusEvent {
  readonly key: string;
  readonly value: Buffer;
}

const FIRST = [
  'Ana',
  'Ben',
  'Chloé',
  'Dmitri',
  'Emeka',
  'Fatima',
  'Grace',
  'Hiro',
  'Ines',
  'Jonas',
  'Kavya',
  'Liam',
  'Mei',
  'Noah',
  'Olu',
  'Priya',
  'Quinn',
  'Rosa',
  'Sven',
  'Tariq',
  'Uma',
  'Viktor',
  'Wen',
  'Yara',
  'Zoe',
];
const LAST = [
  'Alvarez',
  'Brown',
  'Chen',
  'Dubois',
  'Eriksen',
  'Fischer',
  'García',
  'Hassan',
  'Ivanova',
  'Johnson',
  'Kowalski',
  'Lee',
  'Martin',
  'Nakamura',
  'Okafor',
  'Patel',
  'Rossi',
  'Schmidt',
  'Tanaka',
  'Usman',
  'Weber',
  'Yilmaz',
];
const STREETS = [
  'Main St',
  'Oak Avenue',
  'Maple Drive',
  'Harbour Road',
  'Station Street',
  'Elm Court',
  'King’s Way',
  'Riverside Blvd',
  'Mill Lane',
  'Cedar Place',
  'Market Square',
  'Hillcrest Rd',
];
const CITIES: readonly [string, string, string, string][] = [
  ['Seattle', 'WA', 'US', 'USD'],
  ['Austin', 'TX', 'US', 'USD'],
  ['Portland', 'OR', 'US', 'USD'],
  ['Toronto', 'ON', 'CA', 'CAD'],
  ['Berlin', 'BE', 'DE', 'EUR'],
  ['Lyon', 'ARA', 'FR', 'EUR'],
  ['Manchester', 'ENG', 'GB', 'GBP'],
  ['Dublin', 'D', 'IE', 'EUR'],
  ['Melbourne', 'VIC', 'AU', 'AUD'],
  ['Osaka', '27', 'JP', 'JPY'],
];
const PRODUCTS = [
  'Trail Running Shoe',
  'Merino Wool Socks (3-pack)',
  'Insulated Water Bottle 750 ml',
  'Packable Rain Jacket',
  'Headlamp 400 lm',
  'Ultralight Daypack 22 L',
  'Carbon Trekking Poles',
  'Compression Tee',
  'Camp Mug, enamel',
  'Solar Power Bank 10000 mAh',
  'Quick-dry Towel L',
  'Fleece Beanie',
  'First Aid Kit, compact',
  'Sunglasses polarised',
  'Thermal Leggings',
];
const COLOURS = ['black', 'slate', 'forest', 'sand', 'ember', 'glacier', 'plum', 'olive'];
const SIZES = ['XS', 'S', 'M', 'L', 'XL', '38', '40', '42', '44', 'one size'];
const CHANNELS = ['web', 'ios', 'android', 'pos', 'marketplace'];
const BRANDS = ['visa', 'mastercard', 'amex', 'paypal', 'apple_pay'];
const CARRIERS = ['ups', 'dhl', 'fedex', 'usps', 'royal_mail', 'yamato'];
const PROMOS = ['WELCOME10', 'SPRING24', 'FREESHIP', 'VIP-2026', 'BUNDLE3'];

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` order events from `seed`: JSON values of about 880–1,250 bytes, about
 * 1 KiB on average.
 *
 * @example
 * const events = orderCorpus(1000, 42);
 * events[0].value.length; // ≈ 1024
 */
export function orderCorpus(count: number, seed = 42): CorpusEvent[] {
  const random = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const alnum = (n: number, alphabet = '0123456789ABCDEFGHJKLMNPQRSTUVWXYZ') => {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(random() * alphabet.length)];
    return s;
  };
  const hex = (n: number) => alnum(n, '0123456789abcdef');
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;

  const events: CorpusEvent[] = [];
  let clock = Date.UTC(2026, 10, 30, 8, 0, 0);
  for (let n = 0; n < count; n++) {
    clock += int(5, 4_000);
    const [city, region, country, currency] = pick(CITIES);
    const first = pick(FIRST);
    const last = pick(LAST);
    const orderId = `ord_${alnum(14)}`;
    const lines = Array.from({ length: int(1, 3) }, () => {
      const quantity = int(1, 3);
      const unitPrice = int(399, 24_999);
      return {
        sku: `SKU-${alnum(4)}-${int(100, 999)}`,
        name: pick(PRODUCTS),
        variant: { colour: pick(COLOURS), size: pick(SIZES) },
        quantity,
        unitPrice,
        discount: random() < 0.3 ? int(50, Math.floor(unitPrice / 4)) : 0,
      };
    });
    const subtotal = lines.reduce((sum, l) => sum + l.quantity * l.unitPrice - l.discount, 0);
    const shipping = subtotal > 7_500 ? 0 : int(299, 1_299);
    const tax = Math.round(subtotal * (int(0, 25) / 100));
    const placedAt = new Date(clock);
    const order = {
      type: 'order.placed',
      eventId: uuid(),
      occurredAt: placedAt.toISOString(),
      orderId,
      channel: pick(CHANNELS),
      customer: {
        customerId: `cus_${alnum(12)}`,
        name: `${first} ${last}`,
        email: `${first
          .toLowerCase()
          .normalize('NFD')
          .replace(/[^a-z]/g, '')}.${last
          .toLowerCase()
          .normalize('NFD')
          .replace(/[^a-z]/g, '')}${int(1, 999)}@example.${pick(['com', 'net', 'org', 'co.uk'])}`,
        phone: `+${int(1, 81)} ${int(200, 999)} ${int(100, 999)} ${int(1000, 9999)}`,
        loyaltyTier: pick(['none', 'silver', 'gold', 'platinum']),
        firstOrder: random() < 0.2,
      },
      shippingAddress: {
        line1: `${int(1, 9_999)} ${pick(STREETS)}`,
        ...(random() < 0.35 ? { line2: `Apt ${int(1, 40)}${pick(['', 'A', 'B', 'C'])}` } : {}),
        city,
        region,
        postalCode: country === 'GB' ? `M${int(1, 99)} ${int(1, 9)}${alnum(2)}` : String(int(10_000, 99_999)),
        country,
      },
      lines,
      totals: { currency, subtotal, shipping, tax, total: subtotal + shipping + tax },
      payment: {
        method: 'card',
        brand: pick(BRANDS),
        last4: String(int(0, 9_999)).padStart(4, '0'),
        authorizationId: `auth_${alnum(18)}`,
      },
      carrier: pick(CARRIERS),
      ...(random() < 0.25 ? { promoCode: pick(PROMOS) } : {}),
      trace: { traceId: hex(32), source: 'checkout-service', release: `2.${int(0, 14)}.${int(0, 30)}` },
    };
    events.push({ key: orderId, value: Buffer.from(JSON.stringify(order)) });
  }
  return events;
}

/** Sizes of a corpus's values: mean, min, max, p50, p99 in bytes. */
export function corpusSizes(
  events: readonly CorpusEvent[],
): Record<'mean' | 'min' | 'p50' | 'p99' | 'max', number> {
  const sizes = events.map((e) => e.value.length).sort((a, b) => a - b);
  const at = (q: number) => sizes[Math.min(sizes.length - 1, Math.floor(q * sizes.length))];
  return {
    mean: Math.round(sizes.reduce((s, n) => s + n, 0) / sizes.length),
    min: sizes[0],
    p50: at(0.5),
    p99: at(0.99),
    max: sizes[sizes.length - 1],
  };
}

/**
 * A JSON string of exactly `bytes` bytes: pseudo-random base64url characters, the same for the same
 * seed. Random on purpose (compression gains little on it): the publish benchmarks measure the bus, not a codec.
 */
export function jsonString(bytes: number, seed: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let state = seed >>> 0 || 1;
  let text = '';
  for (let i = 0; i < bytes - 2; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    text += alphabet[(state >>> 0) % 64];
  }
  return `"${text}"`;
}
