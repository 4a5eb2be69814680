import fc from 'fast-check';
import {
  type AclEntry,
  aclGrants,
  aclGrantsOnEveryTopic,
  aclGrantsOnSomeTopic,
  describeAcl,
  topicPatternMatches,
} from '../../../shared/auth/acl';

describe('topicPatternMatches', () => {
  it.each([
    ['orders', 'orders', true],
    ['orders', 'orders2', false],
    ['orders', 'Orders', false],
    ['orders*', 'orders', true],
    ['orders*', 'orders.eu-1', true],
    ['orders*', 'order', false],
    ['orders*', 'payments', false],
    ['*.dlq', 'billing.dlq', true],
    ['*.dlq', 'billing.dlq2', false],
    ['*', 'anything_at-all.1', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'a-x-b-y-c', true],
    ['a*b*c', 'a-x-c-y-b', false],
    ['o.ders', 'orders', false], // "." is a literal, not "any character"
    ['**', 'x', true],
  ])('%j against %j is %j', (pattern, topic, expected) => {
    expect(topicPatternMatches(pattern, topic)).toBe(expected);
  });

  it('never matches a string that is not a topic name', () => {
    expect(topicPatternMatches('*', 'with space')).toBe(false);
    expect(topicPatternMatches('*', '')).toBe(false);
  });

  it('agrees with a regular expression in which * is [A-Za-z0-9._-]*', () => {
    const chars = fc.constantFrom('a', 'b', '.', '-');
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'b', '.', '-', '*'), minLength: 1, maxLength: 8 }),
        fc.string({ unit: chars, minLength: 1, maxLength: 10 }),
        (pattern, topic) => {
          const reference = new RegExp(
            `^${pattern.replace(/[.-]/g, (c) => `\\${c}`).replace(/\*/g, '[A-Za-z0-9._-]*')}$`,
          );
          expect(topicPatternMatches(pattern, topic)).toBe(reference.test(topic));
        },
      ),
    );
  });

  it('answers a pathological pattern at once (no backtracking blow-up)', () => {
    const started = Date.now();
    expect(topicPatternMatches(`${'a*'.repeat(99)}b`, 'a'.repeat(200))).toBe(false);
    expect(Date.now() - started).toBeLessThan(100);
  });
});

describe('ACL grants', () => {
  const acl: AclEntry[] = [
    { topics: 'orders*', permissions: ['publish'] },
    { topics: 'audit', permissions: ['read'] },
    { topics: 'billing.*', permissions: ['admin'] },
  ];

  it('grants a permission on topics that an entry holding it matches', () => {
    expect(aclGrants(acl, 'publish', 'orders.eu')).toBe(true);
    expect(aclGrants(acl, 'read', 'audit')).toBe(true);
  });

  it('fails a permission the matching entry does not hold: publish does not imply read, nor read publish', () => {
    expect(aclGrants(acl, 'read', 'orders.eu')).toBe(false);
    expect(aclGrants(acl, 'publish', 'audit')).toBe(false);
    expect(aclGrants(acl, 'admin', 'orders')).toBe(false);
  });

  it('fails a topic that no entry matches', () => {
    expect(aclGrants(acl, 'publish', 'payments')).toBe(false);
  });

  it('treats admin on a topic as including publish and read on it', () => {
    for (const permission of ['publish', 'read', 'admin'] as const) {
      expect(aclGrants(acl, permission, 'billing.eu')).toBe(true);
    }
    expect(aclGrants(acl, 'read', 'billing')).toBe(false);
  });

  it('grants on every topic only through a pattern of nothing but *', () => {
    expect(aclGrantsOnEveryTopic(acl, 'admin')).toBe(false);
    expect(aclGrantsOnEveryTopic([{ topics: '*', permissions: ['admin'] }], 'admin')).toBe(true);
    expect(aclGrantsOnEveryTopic([{ topics: '**', permissions: ['admin'] }], 'read')).toBe(true);
    expect(aclGrantsOnEveryTopic([{ topics: '*', permissions: ['read'] }], 'admin')).toBe(false);
  });

  it('grants on some topic when any entry holds the permission', () => {
    expect(aclGrantsOnSomeTopic(acl, 'read')).toBe(true); // audit, and billing.* through admin
    expect(aclGrantsOnSomeTopic([{ topics: 'x', permissions: ['publish'] }], 'read')).toBe(false);
  });

  it('describes an ACL for error messages', () => {
    expect(describeAcl(acl)).toBe('orders* (publish); audit (read); billing.* (admin)');
  });
});
