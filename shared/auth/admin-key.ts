import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { settingsEnv } from '../topology';

/**
 * The admin key: `EVENTBUS_ADMIN_KEY` in local mode, or the Secrets Manager
 * secret named by `EVENTBUS_ADMIN_KEY_SECRET_ARN` on AWS (read once per cold start).
 */
export async function resolveAdminKey(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.EVENTBUS_ADMIN_KEY) return env.EVENTBUS_ADMIN_KEY;
  const arn = env[settingsEnv.adminKeySecretArn];
  if (!arn) throw new Error('Set EVENTBUS_ADMIN_KEY or EVENTBUS_ADMIN_KEY_SECRET_ARN.');
  const secret = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: arn }));
  if (!secret.SecretString) throw new Error(`Secret ${arn} has no string value.`);
  return secret.SecretString.trim();
}
