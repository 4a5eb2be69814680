import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import type * as schemas from '../../functions/api/contract/schemas';
import type * as protocol from '../../protocol';
import { ERROR_CODES, type JsonValue } from '../../protocol';
import type { NewKeyBody } from '../../shared/auth/new-api-key';
import type { SubscriptionBody } from '../../shared/delivery/subscription';
import type { Topic, TopicSettings } from '../../shared/registry/topic';
import type { RoutingTestBody } from '../../shared/services/routing';

/*
 * The protocol's types (what the client and consumer compile against) and the server's schemas (what the
 * bus validates and documents) describe the same bodies. Each line below fails `npm run typecheck` when
 * one side changes without the other: requests compare with what a schema accepts (its input), answers
 * with what it produces (its output). `readonly` is ignored; a schema's `unknown` (a JSON value) reads as
 * `JsonValue`; and the protocol's `ErrorCode` reads as the schemas' `string`, since a client must parse the
 * codes a newer bus adds.
 */

type Normalize<T> = unknown extends T
  ? JsonValue
  : JsonValue extends T
    ? JsonValue
    : [T] extends [protocol.ErrorCode]
      ? string
      : T extends readonly (infer E)[]
        ? readonly Normalize<E>[]
        : T extends object
          ? { readonly [K in keyof T]: Normalize<T[K]> }
          : T;

type Same<A, B> =
  (<G>() => G extends Normalize<A> ? 1 : 2) extends <G>() => G extends Normalize<B> ? 1 : 2 ? true : false;

/** Compiles only when `T` is `true`. */
function agree<T extends true>(): T | undefined {
  return undefined;
}

/** Every `A` is a `B`: for the one answer whose schema is looser than the wire (see below). */
type Within<A, B> = Normalize<A> extends Normalize<B> ? true : false;

type In<S extends z.ZodType> = z.input<S>;
type Out<S extends z.ZodType> = z.output<S>;

agree<Same<protocol.ErrorAnswer, Out<typeof schemas.ErrorBody>>>();
agree<Same<protocol.TopicConfig, In<typeof TopicSettings>>>();
agree<Same<protocol.TopicSummary, Out<typeof Topic>>>();
agree<Same<protocol.TopicList, Out<typeof schemas.TopicList>>>();
agree<Same<protocol.TopicDescription, Out<typeof schemas.TopicDescription>>>();
agree<Same<protocol.PublishRequest, In<typeof schemas.JsonEventsBody>>>();
// The schema's failed result is an error body without the `partition` the bus also sends (publisher.ts).
agree<Within<protocol.PublishAnswer, Out<typeof schemas.PublishAnswer>>>();
agree<Same<protocol.EventView, Out<typeof schemas.EventView>>>();
agree<Same<protocol.EventPage, Out<typeof schemas.ReadAnswer>>>();
agree<Same<protocol.NewKey, In<typeof NewKeyBody>>>();
agree<Same<protocol.CreatedKey, Out<typeof schemas.CreatedKey>>>();
agree<Same<protocol.KeyList, Out<typeof schemas.KeyList>>>();
agree<Same<protocol.SubscriptionConfig, In<typeof SubscriptionBody>>>();
agree<Same<protocol.Subscription, Out<typeof schemas.Subscription>>>();
agree<Same<protocol.RoutingTestRequest, In<typeof RoutingTestBody>>>();
agree<Same<protocol.RoutingTestAnswer, Out<typeof schemas.RoutingTestAnswer>>>();
agree<Same<protocol.CreatedSubscription, Out<typeof schemas.CreatedSubscription>>>();
agree<Same<protocol.SubscriptionList, Out<typeof schemas.SubscriptionList>>>();
agree<Same<protocol.SubscriptionDescription, Out<typeof schemas.SubscriptionDescription>>>();
agree<Same<protocol.ResetRequest, In<typeof schemas.ResetBody>>>();
agree<Same<protocol.ResetAnswer, Out<typeof schemas.ResetAnswer>>>();
agree<Same<protocol.RedriveAnswer, Out<typeof schemas.RedriveAnswer>>>();
agree<Same<protocol.HealthAnswer, Out<typeof schemas.HealthAnswer>>>();

describe('the error codes', () => {
  test('are the ones docs/api.md lists, no more and no fewer', () => {
    // GIVEN the API reference's table of error answers
    const api = readFileSync(path.join(__dirname, '../../docs/api.md'), 'utf8');
    const table = api.slice(api.indexOf('| status | code | when |'), api.indexOf('- **Names**'));
    // WHEN its codes are collected
    const documented = new Set(
      table
        .split('\n')
        .map((row) => row.split('|')[2] ?? '')
        .flatMap((cell) => [...cell.matchAll(/`([A-Z_]+)`/g)].map((match) => match[1])),
    );
    // THEN they are the protocol's list
    expect([...documented].sort()).toEqual([...ERROR_CODES].sort());
  });
});
