import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** docs/benchmarks.md, which several benchmarks write parts of. */
export const BENCHMARKS_PAGE = path.resolve(__dirname, '..', 'docs', 'benchmarks.md');

const begin = (name: string) => `<!-- begin:${name} -->`;
const end = (name: string) => `<!-- end:${name} -->`;
const SECTION = /<!-- begin:([a-z0-9-]+) -->[\s\S]*?<!-- end:\1 -->/g;

/**
 * Replaces the section `name` of docs/benchmarks.md (between its begin and
 * end markers) with `markdown`, or appends it; the rest of the page stays.
 *
 * @example
 * writeSection('appenders', '## Independent appenders\n...');
 */
export function writeSection(name: string, markdown: string, file = BENCHMARKS_PAGE): void {
  const page = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const block = `${begin(name)}\n${markdown.trim()}\n${end(name)}`;
  const at = page.indexOf(begin(name));
  const next =
    at >= 0
      ? page.slice(0, at) + block + page.slice(page.indexOf(end(name), at) + end(name).length)
      : `${page.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next);
}

/**
 * `rendered` with the sections other benchmarks wrote into `file` appended,
 * so a benchmark that rewrites the whole page keeps them.
 */
export function keepSections(rendered: string, file = BENCHMARKS_PAGE): string {
  const page = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const sections = page.match(SECTION) ?? [];
  return sections.length === 0 ? rendered : `${rendered.trimEnd()}\n\n${sections.join('\n\n')}\n`;
}
