import { validateNewApiKey } from '../../../shared/auth/new-api-key';
import { InvalidRequestError } from '../../../shared/errors';

describe('validateNewApiKey', () => {
  it('returns only the known fields of a valid request', () => {
    expect(
      validateNewApiKey({
        acl: [{ topics: 'orders*', permissions: ['publish', 'read'] }],
        description: 'shop',
      }),
    ).toEqual({ acl: [{ topics: 'orders*', permissions: ['publish', 'read'] }], description: 'shop' });
    expect(validateNewApiKey({ acl: [{ topics: '*', permissions: ['admin'] }] })).toEqual({
      acl: [{ topics: '*', permissions: ['admin'] }],
    });
  });

  it.each([
    ['a non-object body', [], /body must be an object/],
    [
      'an unknown top-level field',
      { acl: [{ topics: 'a', permissions: ['read'] }], expires: 1 },
      /Unknown field.*"expires"/,
    ],
    ['no acl', {}, /"acl" must be an array/],
    ['an empty acl', { acl: [] }, /"acl" must be an array of 1/],
    [
      '101 entries',
      { acl: Array.from({ length: 101 }, () => ({ topics: 'a', permissions: ['read'] })) },
      /1 to 100/,
    ],
    ['an entry that is not an object', { acl: ['orders*'] }, /"acl\[0\]" must be an object/],
    [
      'an unknown entry field',
      { acl: [{ topics: 'a', permission: ['read'] }] },
      /Unknown field.*"permission"/,
    ],
    [
      'a pattern with a space',
      { acl: [{ topics: 'a b', permissions: ['read'] }] },
      /"acl\[0\].topics" must be/,
    ],
    ['an empty pattern', { acl: [{ topics: '', permissions: ['read'] }] }, /"acl\[0\].topics"/],
    ['a pattern that is not a string', { acl: [{ topics: 5, permissions: ['read'] }] }, /"acl\[0\].topics"/],
    [
      'a pattern over 200 characters',
      { acl: [{ topics: 'a'.repeat(201), permissions: ['read'] }] },
      /1 to 200/,
    ],
    ['no permissions', { acl: [{ topics: 'a', permissions: [] }] }, /non-empty array/],
    ['an unknown permission', { acl: [{ topics: 'a', permissions: ['write'] }] }, /"write"; use "publish"/],
    ['a repeated permission', { acl: [{ topics: 'a', permissions: ['read', 'read'] }] }, /twice/],
    [
      'a description over 256 characters',
      { acl: [{ topics: 'a', permissions: ['read'] }], description: 'x'.repeat(257) },
      /at most 256/,
    ],
    [
      'a description that is not a string',
      { acl: [{ topics: 'a', permissions: ['read'] }], description: 7 },
      /"description"/,
    ],
  ])('fails %s', (_name, input, message) => {
    expect(() => validateNewApiKey(input)).toThrow(InvalidRequestError);
    expect(() => validateNewApiKey(input)).toThrow(message);
  });
});
