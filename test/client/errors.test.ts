import {
  ConflictError,
  EventBusError,
  errorFromAnswer,
  OffsetOutOfRangeError,
  TopicNotFoundError,
  UnavailableError,
} from '../../client';

describe('errorFromAnswer', () => {
  test('picks the class by the API code and keeps its message and status', () => {
    const error = errorFromAnswer(
      404,
      {
        error: {
          code: 'TOPIC_NOT_FOUND',
          message: 'Topic "x" does not exist; create it with PUT /topics/x.',
        },
      },
      null,
    );
    expect(error).toBeInstanceOf(TopicNotFoundError);
    expect(error).toMatchObject({ code: 'TOPIC_NOT_FOUND', status: 404, retryable: false });
    expect(error.message).toMatch(/PUT \/topics\/x/);
  });

  test('a 503 is retryable after its Retry-After, in milliseconds', () => {
    const error = errorFromAnswer(503, { error: { code: 'UNAVAILABLE', message: 'retry' } }, '3');
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({ retryable: true, retryAfterMs: 3_000 });
  });

  test('a 409 "still in progress" with Retry-After is retryable; a plain 409 is not', () => {
    expect(errorFromAnswer(409, { error: { code: 'CONFLICT', message: 'in progress' } }, '1')).toMatchObject({
      retryable: true,
      retryAfterMs: 1_000,
    });
    const conflict = errorFromAnswer(409, { error: { code: 'CONFLICT', message: 'differs' } }, null);
    expect(conflict).toBeInstanceOf(ConflictError);
    expect(conflict.retryable).toBe(false);
  });

  test("a partly committed publish (503 with per-event results) names the first event's error and keeps the results", () => {
    const results = [
      { partition: 0, offset: 7 },
      {
        partition: 1,
        error: { code: 'UNAVAILABLE', message: 'This partition could not be written; retry the request.' },
      },
    ];
    const error = errorFromAnswer(503, { results }, '1');
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.message).toBe('This partition could not be written; retry the request.');
    expect(error.details.results).toEqual(results);
  });

  test('410 carries the startOffset; an unknown code is still an EventBusError', () => {
    const gone = errorFromAnswer(
      410,
      { error: { code: 'OFFSET_OUT_OF_RANGE', message: 'gone', startOffset: 40 } },
      null,
    );
    expect(gone).toBeInstanceOf(OffsetOutOfRangeError);
    expect((gone as OffsetOutOfRangeError).startOffset).toBe(40);
    const unknown = errorFromAnswer(418, { error: { code: 'TEAPOT', message: 'no' } }, null);
    expect(unknown).toBeInstanceOf(EventBusError);
    expect(unknown).toMatchObject({ code: 'TEAPOT', status: 418 });
  });
});
