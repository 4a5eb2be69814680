import type { JsonValue } from './json-value';

/**
 * An event as the API shows it to readers and delivery targets (docs/api.md,
 * Read). `V` is what the reader takes the value to be: JSON by default.
 */
export interface EventView<V = JsonValue> {
  readonly offset: number;
  /** When the bus appended it, ISO-8601. */
  readonly timestamp: string;
  readonly key: string | null;
  /** JSON as published; a string for text; base64 when `valueEncoding` is `base64`. */
  readonly value: V;
  readonly headers: Readonly<Record<string, string>>;
  /** Present when the value is not JSON or text and is shown as base64. */
  readonly valueEncoding?: 'base64';
}
