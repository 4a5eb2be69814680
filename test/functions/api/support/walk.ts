import { apiDocument } from '../../../../functions/api/routes';

/** One operation of the OpenAPI document, as the walking tests use it. */
export interface Operation {
  readonly method: string;
  readonly path: string;
  readonly operationId: string;
  readonly access: { public?: true; permission?: 'publish' | 'read' | 'admin'; resource?: string };
  readonly requestTypes: string[];
  readonly responses: Record<string, unknown>;
}

/** Every operation the served document lists, read from the document itself, not from the route table. */
export function documentedOperations(document = apiDocument() as unknown as OpenApi): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      operations.push({
        method: method.toUpperCase(),
        path,
        operationId: operation.operationId,
        access: operation['x-eventbus-access'],
        requestTypes: Object.keys(operation.requestBody?.content ?? {}),
        responses: operation.responses,
      });
    }
  }
  return operations;
}

/** The example a request body schema declares (components carry them), if any. */
export function exampleBody(document: OpenApi, operation: Operation, type: string): unknown {
  const path = document.paths[operation.path][operation.method.toLowerCase()];
  const schema = path.requestBody?.content[type]?.schema as { $ref?: string; example?: unknown } | undefined;
  if (!schema) return undefined;
  if (schema.example !== undefined) return schema.example;
  const ref = schema.$ref?.replace('#/components/schemas/', '');
  return ref ? (document.components.schemas[ref] as { example?: unknown }).example : undefined;
}

/** A path with its parameters filled in. */
export function fillPath(path: string, values: Record<string, string>): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`No value for path parameter {${name}} of ${path}`);
    return encodeURIComponent(value);
  });
}

export interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      {
        operationId: string;
        'x-eventbus-access': Operation['access'];
        requestBody?: { content: Record<string, { schema: unknown }> };
        responses: Record<string, unknown>;
      }
    >
  >;
  components: { schemas: Record<string, unknown> };
}
