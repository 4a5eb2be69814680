/**
 * `npm run openapi`: writes the API's OpenAPI document to docs/openapi.json,
 * from the same schemas that validate requests. The contract test fails when
 * the committed file differs from what this writes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiDocument } from '../routes';

export const OPENAPI_FILE = join(__dirname, '..', '..', '..', 'docs', 'openapi.json');

if (require.main === module) {
  writeFileSync(OPENAPI_FILE, `${JSON.stringify(apiDocument(), null, 2)}\n`);
  console.log(`wrote ${OPENAPI_FILE}`);
}
