// The host's one Server-Sent-Events stream (`GET /api/events`): every live update the UI shows
// goes through `publish`, typed by AdminEventMap. Slow clients are dropped, not buffered forever.
import type { ServerResponse } from 'node:http';
import type { AdminEventMap, AdminEventType } from '../common/adminApi.js';
import { sseFrame, startSse } from '../server/sse.js';

const HEARTBEAT_MS = 15_000;
/** A client whose socket buffer grows past this is too slow to follow the dashboard; drop it. */
const MAX_BUFFERED_BYTES = 4 << 20;

export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private readonly heartbeat: NodeJS.Timeout;

  constructor() {
    this.heartbeat = setInterval(() => {
      for (const client of this.clients) client.write(': keep-alive\n\n');
    }, HEARTBEAT_MS).unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Turns `res` into an event stream; `initial` events are sent to this client first. */
  attach(res: ServerResponse, initial: { type: AdminEventType; data: unknown }[] = []): void {
    startSse(res, { 'Cache-Control': 'no-store' });
    res.write('retry: 2000\n\n');
    for (const event of initial) res.write(format(event.type, event.data));
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }

  publish<K extends AdminEventType>(type: K, data: AdminEventMap[K]): void {
    if (this.clients.size === 0) return;
    const frame = format(type, data);
    for (const client of this.clients) {
      if (client.writableLength > MAX_BUFFERED_BYTES) {
        client.destroy();
        this.clients.delete(client);
        continue;
      }
      client.write(frame);
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const client of this.clients) client.end();
    this.clients.clear();
  }
}

const format = (type: string, data: unknown) => sseFrame(data, type);
