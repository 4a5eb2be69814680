import type { SubscriptionTarget } from './api';

/**
 * A subscription's target in a few words, as the CLI and the console show it.
 *
 * @example
 * describeTarget({ type: 'topic', topic: 'big-orders', key: 'value.customer' }); // 'topic big-orders keyed by value.customer'
 */
export function describeTarget(target: SubscriptionTarget): string {
  switch (target.type) {
    case 'webhook':
      return `webhook ${target.url}`;
    case 'lambda':
      return `lambda ${target.function}`;
    case 'topic':
      return `topic ${target.topic}${target.key === undefined ? '' : ` keyed by ${target.key}`}`;
  }
}
