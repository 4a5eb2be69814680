import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { queryAll } from '../aws/query-all';
import type { AclEntry } from './acl';

const IAM_GRANT_PK = 'iamgrant';

/**
 * What IAM roles may do on a bus whose Function URL takes SigV4-signed
 * requests (`urlAuthType: AWS_IAM`): the construct's `grantPublish` registers
 * an ACL entry per role and topic pattern at deploy time, at
 * `pk = "iamgrant"`, `sk = <role name>#<pattern>`. IAM has already checked
 * the caller may invoke the URL; these say which topics it may publish on.
 */
export class IamGrants {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async put(role: string, entry: AclEntry): Promise<void> {
    await this.dynamo.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: IAM_GRANT_PK, sk: `${role}#${entry.topics}`, role, acl: [entry] },
      }),
    );
  }

  async delete(role: string, topics: string): Promise<void> {
    await this.dynamo.send(
      new DeleteCommand({ TableName: this.table, Key: { pk: IAM_GRANT_PK, sk: `${role}#${topics}` } }),
    );
  }

  /** Every ACL entry granted to the role. */
  async aclOf(role: string): Promise<AclEntry[]> {
    const items = await queryAll(this.dynamo, {
      TableName: this.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :role)',
      ExpressionAttributeValues: { ':pk': IAM_GRANT_PK, ':role': `${role}#` },
      ConsistentRead: true,
    });
    return items.flatMap((item) => item.acl as AclEntry[]);
  }
}

/**
 * The role behind a Function URL caller's ARN: `arn:aws:sts::<account>:assumed-role/<role>/<session>`, as
 * a Lambda function's or a service's role signs; undefined for users and other principals.
 */
export function roleOfCaller(callerArn: string): string | undefined {
  return /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\/([\w+=,.@-]{1,64})\/[^/]+$/.exec(callerArn)?.[1];
}
