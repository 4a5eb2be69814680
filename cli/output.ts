import Table from 'cli-table3';

/**
 * How a command prints: human tables, or JSON for scripts (`--json`).
 *
 * @example
 * new Output(false).result({ created: true }, () => 'Created topic orders.');
 */
export class Output {
  constructor(
    readonly json: boolean,
    private readonly stdout: NodeJS.WritableStream = process.stdout,
  ) {}

  /** A command's result as one JSON document (with `--json`), else the human rendering. */
  result(value: unknown, human: () => string): void {
    this.stdout.write(this.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
  }

  /** One line of a stream (`consume`). */
  line(text: string): boolean {
    return this.stdout.write(`${text}\n`);
  }
}

/**
 * A table for people.
 *
 * @example
 * table(['name', 'partitions'], [['orders', 3]]);
 */
export function table(head: string[], rows: (string | number | null | undefined)[][]): string {
  const rendered = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows)
    rendered.push(row.map((cell) => (cell === null || cell === undefined ? '' : String(cell))));
  return rendered.toString();
}
