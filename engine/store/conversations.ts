// The playground's conversations, kept in the app's SQLite database so they survive restarts:
// a title, the system prompt, and the messages with, per assistant reply, the model that wrote it
// and its timings. Listed newest first, searchable by title and message text.
import { randomBytes } from 'node:crypto';
import type { Conversation, ConversationMessage, ConversationSummary } from '../common/adminApi.js';
import { migrate, type Db } from './db.js';

const MIGRATIONS = [
  `CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    system_prompt TEXT NOT NULL DEFAULT '',
    messages_json TEXT NOT NULL,
    search_text TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
  );
  CREATE INDEX conversations_updated ON conversations (updated_at_ms DESC);`,
];

interface Row {
  id: string;
  title: string;
  system_prompt: string;
  messages_json: string;
  created_at_ms: number;
  updated_at_ms: number;
}

/** A title from the first user message (what the list shows until the user renames it). */
export function defaultTitle(messages: readonly ConversationMessage[]): string {
  const first = messages.find((message) => message.role === 'user')?.content.trim().replace(/\s+/g, ' ') ?? '';
  return first === '' ? 'New conversation' : first.length > 60 ? `${first.slice(0, 57)}…` : first;
}

export class ConversationStore {
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {
    migrate(db, 'conversations', MIGRATIONS);
  }

  list(query?: string): ConversationSummary[] {
    const text = query?.trim().toLowerCase() ?? '';
    const rows = (
      text === ''
        ? this.db.prepare('SELECT * FROM conversations ORDER BY updated_at_ms DESC, rowid DESC').all()
        : this.db.prepare(`SELECT * FROM conversations WHERE search_text LIKE ? ESCAPE '\\' ORDER BY updated_at_ms DESC, rowid DESC`).all(`%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)
    ) as Row[];
    return rows.map((row) => {
      const messages = JSON.parse(row.messages_json) as ConversationMessage[];
      return { id: row.id, title: row.title, messageCount: messages.length, createdAtMs: row.created_at_ms, updatedAtMs: row.updated_at_ms };
    });
  }

  get(id: string): Conversation | undefined {
    const row = this.db.prepare('SELECT * FROM conversations WHERE id = ?').get(id) as Row | undefined;
    return row && toConversation(row);
  }

  create(input: { title?: string; systemPrompt?: string; messages?: ConversationMessage[] }): Conversation {
    const now = this.now();
    const messages = input.messages ?? [];
    const conversation: Conversation = {
      id: `conv-${randomBytes(8).toString('hex')}`,
      title: input.title?.trim() || defaultTitle(messages),
      systemPrompt: input.systemPrompt ?? '',
      messages,
      createdAtMs: now,
      updatedAtMs: now,
    };
    this.db
      .prepare('INSERT INTO conversations (id, title, system_prompt, messages_json, search_text, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(conversation.id, conversation.title, conversation.systemPrompt, JSON.stringify(messages), searchText(conversation), now, now);
    return conversation;
  }

  /** Replaces the given fields; a conversation still titled by its first message follows it. */
  update(id: string, change: { title?: string; systemPrompt?: string; messages?: ConversationMessage[] }): Conversation | undefined {
    const current = this.get(id);
    if (!current) return undefined;
    const messages = change.messages ?? current.messages;
    const titledByDefault = current.title === defaultTitle(current.messages);
    const next: Conversation = {
      ...current,
      title: change.title?.trim() || (titledByDefault ? defaultTitle(messages) : current.title),
      systemPrompt: change.systemPrompt ?? current.systemPrompt,
      messages,
      updatedAtMs: Math.max(this.now(), current.updatedAtMs),
    };
    this.db
      .prepare('UPDATE conversations SET title = ?, system_prompt = ?, messages_json = ?, search_text = ?, updated_at_ms = ? WHERE id = ?')
      .run(next.title, next.systemPrompt, JSON.stringify(next.messages), searchText(next), next.updatedAtMs, id);
    return next;
  }

  remove(id: string): boolean {
    return this.db.prepare('DELETE FROM conversations WHERE id = ?').run(id).changes > 0;
  }
}

function toConversation(row: Row): Conversation {
  return { id: row.id, title: row.title, systemPrompt: row.system_prompt, messages: JSON.parse(row.messages_json) as ConversationMessage[], createdAtMs: row.created_at_ms, updatedAtMs: row.updated_at_ms };
}

function searchText(conversation: Pick<Conversation, 'title' | 'messages'>): string {
  return [conversation.title, ...conversation.messages.map((message) => message.content)].join('\n').toLowerCase();
}
