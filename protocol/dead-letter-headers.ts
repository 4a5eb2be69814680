/**
 * Headers a dead letter carries besides its own (docs/api.md, Dead letters):
 * where it came from and why it failed. The bus writes them; a consumer reads
 * them to recognise a redriven event.
 */
export const DEAD_LETTER_HEADERS = {
  topic: 'eventbus-dlq-topic',
  partition: 'eventbus-dlq-partition',
  offset: 'eventbus-dlq-offset',
  error: 'eventbus-dlq-error',
  attempts: 'eventbus-dlq-attempts',
  time: 'eventbus-dlq-time',
} as const;
