import { LinearRegExp } from '../../../shared/json/linear-regexp';
import { compileTransform, TRANSFORM_LIMITS, TransformError } from '../../../shared/routing/transform';

const event = {
  key: 'o-1',
  value: {
    total: 120,
    items: [
      { sku: 'a', qty: 2 },
      { sku: 'b', qty: 1 },
    ],
    note: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!',
  },
  headers: { ce_type: 'order.created' },
  topic: 'orders',
  partition: 3,
  offset: 41,
  timestamp: '2026-12-04T10:00:00.000Z',
};

describe('transforms', () => {
  it('reshapes an event from its key, value, headers and position', async () => {
    const transform = compileTransform(
      '{"order": key, "type": headers.ce_type, "units": $sum(value.items.qty), "from": topic & "/" & $string(partition) & "/" & $string(offset)}',
    );
    expect(await transform.apply(event)).toEqual({
      ok: true,
      value: { order: 'o-1', type: 'order.created', units: 3, from: 'orders/3/41' },
    });
  });

  it('fails an event whose expression yields nothing, or throws, saying why', async () => {
    expect(await compileTransform('value.missing').apply(event)).toEqual({
      ok: false,
      error: 'transform yielded nothing for this event',
    });
    const thrown = await compileTransform('$error("no total")').apply(event);
    expect(thrown).toEqual({ ok: false, error: expect.stringContaining('no total') });
  });

  it('refuses an expression that does not compile, with where', () => {
    expect(() => compileTransform('{"a": value.total')).toThrow(TransformError);
    try {
      compileTransform('$sum(value.');
    } catch (error) {
      expect((error as TransformError).message).toMatch(/^transform.jsonata does not compile: /);
      expect((error as TransformError).position).toEqual(expect.any(Number));
    }
    expect(() => compileTransform('')).toThrow(/non-empty/);
    expect(() => compileTransform('1'.repeat(5000))).toThrow(/at most 4096/);
  });

  it("refuses the clock and chance where the same result is needed every time (a topic target's key), naming the field", () => {
    for (const expression of ['$string($random())', 'key & $now()', '($t := $millis; $t())']) {
      expect(() => compileTransform(expression, { field: 'target.key', deterministic: true })).toThrow(
        /^target\.key must give the same result every time it runs: \$(random|now|millis)\(\)/,
      );
      // A transform may use them: its value is appended once whatever it is (docs/adr/0020)
      expect(() => compileTransform(expression)).not.toThrow();
    }
    expect(() =>
      compileTransform('value.customer & "-" & $string(partition)', {
        field: 'target.key',
        deterministic: true,
      }),
    ).not.toThrow();
  });

  it('refuses a regular expression RE2 cannot run in linear time', () => {
    expect(() => compileTransform('$match(value.note, /(a)\\1/)')).toThrow(/linear time/);
    expect(() => compileTransform('$match(value.note, /a(?=b)/)')).toThrow(/linear time/);
  });

  it('runs a catastrophic regular expression in linear time', async () => {
    // On a backtracking engine this pattern takes 2^64 steps on the note.
    const outcome = await compileTransform('$contains(value.note, /^(a+)+$/)').apply(event);
    expect(outcome).toEqual({ ok: true, value: false });
  });

  it('stops an expression that runs too long, recurses too deep or builds too much', async () => {
    const loop = await compileTransform(
      '( $f := function($n){ $n > 0 ? $f($n - 1) + $f($n - 1) : 1 }; $f(40) )',
    ).apply(event);
    expect(loop).toEqual({ ok: false, error: expect.stringMatching(/timeout|stack/i) });
    const deep = await compileTransform('( $f := function($n){ $f($n + 1) }; $f(0) )').apply(event);
    expect(deep).toEqual({ ok: false, error: expect.stringMatching(/timeout|stack/i) });
    const doubling = await compileTransform(
      '( $f := function($s, $n){ $n = 0 ? $s : $f($s & $s, $n - 1) }; $f("x", 40) )',
    ).apply(event);
    expect(doubling).toEqual({
      ok: false,
      error: expect.stringContaining(`passed ${TRANSFORM_LIMITS.maxStringLength} characters`),
    });
    const pad = await compileTransform('$pad("x", 1000000000)').apply(event);
    expect(pad).toEqual({ ok: false, error: expect.stringContaining('$pad width') });
    const range = await compileTransform('[1..10000000]').apply(event);
    expect(range.ok).toBe(false);
  });

  it('keeps $pad working within its bounds', async () => {
    expect(await compileTransform('$pad(key, 6, "#")').apply(event)).toEqual({ ok: true, value: 'o-1###' });
    expect(await compileTransform('$pad(key, -5)').apply(event)).toEqual({ ok: true, value: '  o-1' });
  });
});

describe('linear regular expressions', () => {
  it('exec walks the matches as a global RegExp does', () => {
    const re = new LinearRegExp(/b(\d)/g);
    const text = 'ab1cb2';
    expect(re.exec(text)).toEqual(Object.assign(['b1', '1'], { index: 1, input: text }));
    expect(re.exec(text)).toEqual(Object.assign(['b2', '2'], { index: 4, input: text }));
    expect(re.exec(text)).toBeNull();
    expect(new LinearRegExp('B', 'i').test('abc')).toBe(true);
    // Ajv keys compiled patterns by their text: two patterns must not print alike.
    expect(String(new LinearRegExp('^a$', 'u'))).not.toBe(String(new LinearRegExp('^b$', 'u')));
  });
});
