import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { settingFromEnv } from '../config';

/**
 * The admin key: `EVENTBUS_ADMIN_KEY` in local mode, or the Secrets Manager
 * secret named by `EVENTBUS_ADMIN_KEY_SECRET_ARN` on AWS. The secret is
 * cached for `EVENTBUS_ADMIN_KEY_MAX_AGE_SECONDS` (Powertools Parameters), so
 * a rotated key reaches every warm instance within that time without a
 * request to Secrets Manager per call.
 *
 * @example
 * const adminKey = await readAdminKey(); // call per request: it is cached
 */
export type AdminKeySource = () => Promise<string>;

export function adminKeySource(
  env: NodeJS.ProcessEnv = process.env,
  secrets: Pick<SecretsProvider, 'get'> = new SecretsProvider(),
): AdminKeySource {
  const fixed = settingFromEnv('adminKey', env);
  if (fixed) return async () => fixed;
  const arn = settingFromEnv('adminKeySecretArn', env);
  if (!arn) throw new Error('Set EVENTBUS_ADMIN_KEY or EVENTBUS_ADMIN_KEY_SECRET_ARN.');
  const maxAge = settingFromEnv('adminKeyMaxAgeSeconds', env);
  return async () => {
    const value = await secrets.get(arn, { maxAge });
    if (typeof value !== 'string' || value.trim() === '')
      throw new Error(`Secret ${arn} has no string value.`);
    return value.trim();
  };
}
