import { RE2JS } from 're2js';

/**
 * A regular expression that matches in time linear in its input, whatever the
 * pattern: RE2's automaton (the `re2js` port) behind the part of JavaScript's
 * `RegExp` interface that JSONata (`RegexEngine`) and Ajv (`code.regExp`)
 * call. Patterns written by users — a transform's `/…/`, a schema's
 * `pattern` — run on every event, so one like `(a+)+$` must not be able to
 * stall a deliverer or an API instance. What RE2 cannot bound (look-arounds,
 * back-references) is refused when the pattern is compiled.
 */
export class LinearRegExp {
  readonly source: string;
  readonly flags: string;
  /** Where the next `exec` starts, updated by each match, as a global RegExp does. */
  lastIndex = 0;
  private readonly re2: RE2JS;

  constructor(pattern: string | RegExp, flags?: string) {
    this.source = typeof pattern === 'string' ? pattern : pattern.source;
    this.flags = flags ?? (typeof pattern === 'string' ? '' : pattern.flags);
    let re2Flags = 0;
    if (this.flags.includes('i')) re2Flags |= RE2JS.CASE_INSENSITIVE;
    if (this.flags.includes('m')) re2Flags |= RE2JS.MULTILINE;
    if (this.flags.includes('s')) re2Flags |= RE2JS.DOTALL;
    this.re2 = RE2JS.compile(this.source, re2Flags);
  }

  /** The first match at or after `lastIndex`, as `RegExp.prototype.exec` returns it. */
  exec(input: string): RegExpExecArray | null {
    const matcher = this.re2.matcher(input);
    if (this.lastIndex > input.length || !matcher.find(this.lastIndex)) {
      this.lastIndex = 0;
      return null;
    }
    const groups: (string | undefined)[] = [];
    for (let i = 0; i <= matcher.groupCount(); i++) groups.push(matcher.group(i) ?? undefined);
    this.lastIndex = matcher.end();
    return Object.assign(groups, { index: matcher.start(), input }) as unknown as RegExpExecArray;
  }

  /** As a RegExp prints itself: Ajv keys its compiled patterns by this text. */
  toString(): string {
    return `/${this.source}/${this.flags}`;
  }

  test(input: string): boolean {
    this.lastIndex = 0;
    return this.re2.matcher(input).find(0);
  }
}
