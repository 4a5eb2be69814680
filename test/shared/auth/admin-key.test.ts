import { adminKeySource } from '../../../shared/auth/admin-key';
import { Authorizer } from '../../../shared/auth/authorizer';

describe('the admin key', () => {
  test('GIVEN a secret ARN WHEN the key is read THEN it is asked with the configured maximum age, trimmed', async () => {
    const asked: { arn: string; maxAge?: number }[] = [];
    const source = adminKeySource(
      {
        EVENTBUS_ADMIN_KEY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:admin',
        EVENTBUS_ADMIN_KEY_MAX_AGE_SECONDS: '120',
      },
      {
        get: (async (arn: string, options?: { maxAge?: number }) => {
          asked.push({ arn, maxAge: options?.maxAge });
          return ' rotated-admin-key-0001 \n';
        }) as never,
      },
    );
    expect(await source()).toBe('rotated-admin-key-0001');
    expect(asked).toEqual([{ arn: 'arn:aws:secretsmanager:eu-west-1:1:secret:admin', maxAge: 120 }]);
  });

  test('fails when neither a key nor a secret is configured', () => {
    expect(() => adminKeySource({})).toThrow(/Set EVENTBUS_ADMIN_KEY or EVENTBUS_ADMIN_KEY_SECRET_ARN/);
  });

  test('GIVEN the secret is rotated WHEN its cached value expires THEN the new key works and the old one is refused', async () => {
    let current = 'first-admin-key-0001';
    const authorizer = new Authorizer(async () => current);
    expect((await authorizer.authenticate(`Bearer ${current}`)).admin).toBe(true);
    current = 'second-admin-key-0002';
    expect((await authorizer.authenticate('Bearer second-admin-key-0002')).admin).toBe(true);
    await expect(authorizer.authenticate('Bearer first-admin-key-0001')).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
    });
  });
});
