// The request log: one SQLite row per HTTP request the server answered, successful or not.
// Each row is written when it is recorded, which the server does just before the response's last
// bytes go out: a client that got its answer finds its row even if the process is killed right
// after. WAL with synchronous=NORMAL (db.ts) makes a commit a write into the WAL file, no fsync,
// so it survives the process dying (not a power cut) at a few microseconds a row; see
// scripts/bench-request-log.ts. Buffering (flushIntervalMs > 0) remains for callers that prefer
// fewer transactions over durability. Retention prunes by age and by row count.
import type { Db } from './db.js';
import { databasePath } from './dataDir.js';
import { migrate, openDb } from './db.js';
import type { LatencyByDay, RequestLogEntry, RequestLogFilter } from '../common/requestLog.js';
import { percentileOfSorted } from '../common/percentiles.js';

export type { LatencyByDay, RequestLogEntry, RequestLogFilter };

const MIGRATIONS = [
  `CREATE TABLE request_log (
     id TEXT PRIMARY KEY,
     time_ms INTEGER NOT NULL,
     endpoint TEXT NOT NULL,
     model TEXT,
     status INTEGER NOT NULL,
     finish_reason TEXT,
     prompt_tokens INTEGER,
     completion_tokens INTEGER,
     queue_ms REAL,
     ttft_ms REAL,
     total_ms REAL NOT NULL,
     tokens_per_sec REAL,
     client_ip TEXT,
     user_agent TEXT,
     error TEXT,
     prompt TEXT,
     response TEXT,
     stream INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX request_log_time ON request_log(time_ms);
   CREATE INDEX request_log_status ON request_log(status, time_ms);
   CREATE INDEX request_log_model ON request_log(model, time_ms);`,
];

export interface RequestLogOptions {
  /** Database file; default `databasePath()`. An already open Db may be passed instead. */
  file?: string;
  db?: Db;
  /**
   * 0 (default): each row is committed as it is recorded. > 0: rows are queued and committed in one
   * transaction per interval (and on close); a process that dies loses up to one interval of rows.
   */
  flushIntervalMs?: number;
  /** Rows older than this are deleted; 0 keeps them forever. */
  retentionDays?: number;
  /** At most this many rows are kept (newest win); 0 = unlimited. */
  retentionMaxRows?: number;
  /** How often retention runs, ms. */
  pruneIntervalMs?: number;
  /** Clock, for tests of retention. */
  nowMs?: () => number;
}

interface Row {
  id: string;
  time_ms: number;
  endpoint: string;
  model: string | null;
  status: number;
  finish_reason: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  queue_ms: number | null;
  ttft_ms: number | null;
  total_ms: number;
  tokens_per_sec: number | null;
  client_ip: string | null;
  user_agent: string | null;
  error: string | null;
  prompt: string | null;
  response: string | null;
  stream: number;
}

const COLUMNS = [
  'id', 'time_ms', 'endpoint', 'model', 'status', 'finish_reason', 'prompt_tokens', 'completion_tokens',
  'queue_ms', 'ttft_ms', 'total_ms', 'tokens_per_sec', 'client_ip', 'user_agent', 'error', 'prompt', 'response', 'stream',
] as const;

function toRow(entry: RequestLogEntry): Row {
  return {
    id: entry.id,
    time_ms: Math.round(entry.timeMs),
    endpoint: entry.endpoint,
    model: entry.model,
    status: entry.status,
    finish_reason: entry.finishReason,
    prompt_tokens: entry.promptTokens,
    completion_tokens: entry.completionTokens,
    queue_ms: entry.queueMs,
    ttft_ms: entry.ttftMs,
    total_ms: entry.totalMs,
    tokens_per_sec: entry.tokensPerSec,
    client_ip: entry.clientIp,
    user_agent: entry.userAgent,
    error: entry.error,
    prompt: entry.prompt,
    response: entry.response,
    stream: entry.stream ? 1 : 0,
  };
}

function fromRow(row: Row): RequestLogEntry {
  return {
    id: row.id,
    timeMs: row.time_ms,
    endpoint: row.endpoint,
    model: row.model,
    status: row.status,
    finishReason: row.finish_reason as RequestLogEntry['finishReason'],
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    queueMs: row.queue_ms,
    ttftMs: row.ttft_ms,
    totalMs: row.total_ms,
    tokensPerSec: row.tokens_per_sec,
    clientIp: row.client_ip,
    userAgent: row.user_agent,
    error: row.error,
    prompt: row.prompt,
    response: row.response,
    stream: row.stream === 1,
  };
}

function whereClause(filter: RequestLogFilter): { sql: string; params: Record<string, unknown> } {
  const conditions: string[] = [];
  const params: Record<string, unknown> = {};
  if (typeof filter.status === 'number') {
    conditions.push('status = @status');
    params.status = filter.status;
  } else if (typeof filter.status === 'string') {
    const base = Number(filter.status[0]) * 100;
    conditions.push('status >= @statusLow AND status < @statusHigh');
    params.statusLow = base;
    params.statusHigh = base + 100;
  }
  if (filter.model !== undefined) {
    conditions.push('model = @model');
    params.model = filter.model;
  }
  if (filter.endpoint !== undefined) {
    conditions.push('endpoint = @endpoint');
    params.endpoint = filter.endpoint;
  }
  if (filter.finishReason !== undefined) {
    conditions.push('finish_reason = @finishReason');
    params.finishReason = filter.finishReason;
  }
  if (filter.sinceMs !== undefined) {
    conditions.push('time_ms >= @sinceMs');
    params.sinceMs = Math.floor(filter.sinceMs);
  }
  if (filter.untilMs !== undefined) {
    conditions.push('time_ms <= @untilMs');
    params.untilMs = Math.ceil(filter.untilMs);
  }
  if (filter.text !== undefined && filter.text !== '') {
    // LIKE with an escape character, so '%' and '_' in the search text match literally.
    conditions.push(
      "(prompt LIKE @text ESCAPE '\\' OR response LIKE @text ESCAPE '\\' OR error LIKE @text ESCAPE '\\' OR id LIKE @text ESCAPE '\\')",
    );
    params.text = `%${filter.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  }
  return { sql: conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export class RequestLog {
  readonly db: Db;
  private readonly ownsDb: boolean;
  private pending: Row[] = [];
  private readonly flushTimer: NodeJS.Timeout | null;
  private readonly pruneTimer: NodeJS.Timeout | null;
  private readonly insert;
  private readonly nowMs: () => number;
  private closed = false;

  constructor(private readonly options: RequestLogOptions = {}) {
    this.ownsDb = options.db === undefined;
    // readonly passed explicitly: better-sqlite3 rejects `readonly: undefined`, which openDb forwards as is.
    this.db = options.db ?? openDb(options.file ?? databasePath(), { readonly: false });
    migrate(this.db, 'requestLog', MIGRATIONS);
    this.nowMs = options.nowMs ?? Date.now;
    this.insert = this.db.prepare(
      `INSERT OR REPLACE INTO request_log (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')})`,
    );
    const flushIntervalMs = options.flushIntervalMs ?? 0;
    // unref: a pending flush must never keep a finished process alive; close() flushes anyway.
    this.flushTimer = flushIntervalMs > 0 ? setInterval(() => this.flush(), flushIntervalMs).unref() : null;
    const pruneIntervalMs = options.pruneIntervalMs ?? 60_000;
    this.pruneTimer = pruneIntervalMs > 0 ? setInterval(() => this.prune(), pruneIntervalMs).unref() : null;
    this.prune();
  }

  /** Commits the row now (or queues it, when buffering). Never throws. */
  record(entry: RequestLogEntry): void {
    if (this.closed) return;
    this.pending.push(toRow(entry));
    if (this.flushTimer === null) this.flush();
  }

  /** Writes every queued row in one transaction. */
  flush(): void {
    if (this.pending.length === 0 || !this.db.open) return;
    const rows = this.pending;
    this.pending = [];
    try {
      this.db.transaction((batch: Row[]) => {
        for (const row of batch) this.insert.run(row);
      })(rows);
    } catch (error) {
      // A full disk or a locked database must not take the server down; the rows are lost and we say so.
      console.error(`hearth: could not write ${rows.length} request-log rows: ${(error as Error).message}`);
    }
  }

  /** Deletes rows beyond the retention limits. Returns how many were deleted. */
  prune(): number {
    if (!this.db.open) return 0;
    let deleted = 0;
    const days = this.options.retentionDays ?? 30;
    if (days > 0) {
      deleted += this.db.prepare('DELETE FROM request_log WHERE time_ms < ?').run(this.nowMs() - days * 86_400_000).changes;
    }
    const maxRows = this.options.retentionMaxRows ?? 100_000;
    if (maxRows > 0) {
      deleted += this.db
        .prepare(
          `DELETE FROM request_log WHERE rowid IN (
             SELECT rowid FROM request_log ORDER BY time_ms DESC, rowid DESC LIMIT -1 OFFSET ?)`,
        )
        .run(maxRows).changes;
    }
    return deleted;
  }

  /** Newest first. */
  list(filter: RequestLogFilter = {}): RequestLogEntry[] {
    this.flush();
    const { sql, params } = whereClause(filter);
    const rows = this.db
      .prepare(`SELECT * FROM request_log ${sql} ORDER BY time_ms DESC, rowid DESC LIMIT @limit OFFSET @offset`)
      .all({ ...params, limit: filter.limit ?? 100, offset: filter.offset ?? 0 }) as Row[];
    return rows.map(fromRow);
  }

  count(filter: RequestLogFilter = {}): number {
    this.flush();
    const { sql, params } = whereClause(filter);
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM request_log ${sql}`).get(params) as { n: number }).n;
  }

  /** Every model name that has rows, sorted (for the UI's model filter). */
  models(): string[] {
    this.flush();
    const rows = this.db.prepare('SELECT DISTINCT model FROM request_log WHERE model IS NOT NULL ORDER BY model').all() as { model: string }[];
    return rows.map((row) => row.model);
  }

  get(id: string): RequestLogEntry | undefined {
    this.flush();
    const row = this.db.prepare('SELECT * FROM request_log WHERE id = ?').get(id) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** CSV (RFC 4180) of the filtered rows, oldest first, with a header line. No limit unless one is given. */
  exportCsv(filter: RequestLogFilter = {}): string {
    this.flush();
    const { sql, params } = whereClause(filter);
    const rows = this.db
      .prepare(`SELECT ${COLUMNS.join(', ')} FROM request_log ${sql} ORDER BY time_ms ASC, rowid ASC LIMIT @limit OFFSET @offset`)
      .all({ ...params, limit: filter.limit ?? -1, offset: filter.offset ?? 0 }) as Row[];
    const lines = [COLUMNS.join(',')];
    for (const row of rows) lines.push(COLUMNS.map((column) => csvCell(row[column])).join(','));
    return `${lines.join('\r\n')}\r\n`;
  }

  /** p50/p95 of end-to-end and first-token latency per UTC day, oldest day first. */
  latencyByDay(filter: RequestLogFilter = {}): LatencyByDay[] {
    this.flush();
    const { sql, params } = whereClause(filter);
    const rows = this.db
      .prepare(
        `SELECT strftime('%Y-%m-%d', time_ms / 1000, 'unixepoch') AS day, status, total_ms, ttft_ms
         FROM request_log ${sql} ORDER BY day ASC`,
      )
      .all(params) as { day: string; status: number; total_ms: number; ttft_ms: number | null }[];
    const byDay = new Map<string, { requests: number; errors: number; totals: number[]; ttfts: number[] }>();
    for (const row of rows) {
      let bucket = byDay.get(row.day);
      if (!bucket) byDay.set(row.day, (bucket = { requests: 0, errors: 0, totals: [], ttfts: [] }));
      bucket.requests++;
      if (row.status >= 400) bucket.errors++;
      else {
        // Latency percentiles describe served requests; a 400 answered in 1 ms would drag them down.
        bucket.totals.push(row.total_ms);
        if (row.ttft_ms !== null) bucket.ttfts.push(row.ttft_ms);
      }
    }
    const ascending = (a: number, b: number) => a - b;
    return [...byDay.entries()].map(([day, bucket]) => {
      bucket.totals.sort(ascending);
      bucket.ttfts.sort(ascending);
      return {
        day,
        requests: bucket.requests,
        errors: bucket.errors,
        p50TotalMs: percentileOfSorted(bucket.totals, 50),
        p95TotalMs: percentileOfSorted(bucket.totals, 95),
        p50TtftMs: percentileOfSorted(bucket.ttfts, 50),
        p95TtftMs: percentileOfSorted(bucket.ttfts, 95),
      };
    });
  }

  /** Flushes and stops the timers; closes the database if this log opened it. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    if (this.ownsDb) this.db.close();
  }
}
