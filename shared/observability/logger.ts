import { LogFormatter, Logger, LogItem } from '@aws-lambda-powertools/logger';
import type {
  ConstructorOptions,
  LogAttributes,
  UnformattedAttributes,
} from '@aws-lambda-powertools/logger/types';

/**
 * How the bus's log lines look: `json` (Powertools' structured lines, what CloudWatch and Lambda's
 * log-level filter read) unless `LOG_FORMAT=text` asks for one human-readable line per entry, as
 * `npm start` does on a terminal.
 */
export type LogFormat = 'json' | 'text';

/** The format `LOG_FORMAT` asks for; anything but `text` is JSON. */
export function logFormatFromEnv(env: NodeJS.ProcessEnv = process.env): LogFormat {
  return env.LOG_FORMAT === 'text' ? 'text' : 'json';
}

/**
 * The bus's logger: Powertools Logger, for the service `eventbus`, in the format `LOG_FORMAT` asks for.
 *
 * @example
 * const logger = createLogger();
 * logger.info('delivery run', { cursor, partition });
 */
export function createLogger(options: ConstructorOptions = {}, env: NodeJS.ProcessEnv = process.env): Logger {
  const withService = { serviceName: 'eventbus', ...options };
  return logFormatFromEnv(env) === 'text' ? new TextLogger(withService) : new Logger(withService);
}

/**
 * Keeps what a person reading a terminal needs: time, level, message, the correlation id, the entry's
 * own fields and an error's message; Lambda's context and the service name are left out.
 */
export class TextLogFormatter extends LogFormatter {
  formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    const { correlation_id, ...fields } = additional as LogAttributes & { correlation_id?: unknown };
    return new LogItem({
      attributes: {
        timestamp: attributes.timestamp.toISOString().slice(11, 23),
        level: attributes.logLevel,
        message: attributes.message,
        ...(correlation_id === undefined ? {} : { correlation_id }),
        ...fields,
      },
    });
  }
}

/**
 * Powertools Logger printing `TextLogFormatter`'s attributes as one line
 * (`12:00:01.234 WARN  orphan sweep left unfinished error="…"`) instead of JSON.
 */
class TextLogger extends Logger {
  constructor(options: ConstructorOptions = {}) {
    super({ ...options, logFormatter: new TextLogFormatter() } as ConstructorOptions);
  }

  protected override createLogger(options?: ConstructorOptions): Logger {
    return new TextLogger(options);
  }

  protected override printLog(logLevel: number, log: LogItem): void {
    log.prepareForPrint();
    const { timestamp, level, message, ...fields } = log.getAttributes();
    const rest = Object.entries(fields).map(([name, value]) => `${name}=${textOf(value)}`);
    const line = [timestamp, String(level).padEnd(5), message, ...rest].join(' ');
    // WARN and above go to stderr, as Powertools' own console does.
    if (logLevel >= WARN_THRESHOLD) process.stderr.write(`${line}\n`);
    else process.stdout.write(`${line}\n`);
  }
}

/** Powertools' numeric threshold of WARN. */
const WARN_THRESHOLD = 16;

function textOf(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (value !== null && typeof value === 'object' && 'message' in value && 'name' in value) {
    // A formatted error: its message says what happened; the stack is for the JSON format.
    return JSON.stringify(`${(value as { name: string }).name}: ${(value as { message: string }).message}`);
  }
  return JSON.stringify(value);
}
