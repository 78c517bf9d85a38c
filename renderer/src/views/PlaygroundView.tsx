// Playground: chat with the served model, streamed, with sampling controls and per-message
// timings (time to first token, total, tokens/s as seen from here) and the model that replied.
// Replies render as sanitized Markdown; a reasoning model's thinking shows in a collapsible block
// above its answer. Conversations are saved in the app's database after every reply (list,
// search, rename, delete; they survive restarts); the last reply can be regenerated and a user
// message edited and sent again. Conversations list, open and read with nothing served (after a
// restart, say); only sending needs a model, and the chat says which one and offers to serve it.
import { useEffect, useRef, useState } from 'react';
import type { ConversationMessage, ServeStatus } from '../../../engine/common/adminApi.js';
import { useAsync } from '../components/useAsync.js';
import { ChatError, streamChat, type ChatMessage, type ChatTimings, type SamplingControls } from '../api/chat.js';
import { Markdown } from '../components/Markdown.js';
import { Card, Empty } from '../components/States.js';
import { formatMs, formatRate } from '../components/format.js';
import { useHost } from '../hostContext.js';
import { serveForChat } from './ServeView.js';
import { PLAYGROUND_MODEL_KEY, type ViewProps } from './viewProps.js';

/** System prompts to start from; the user's own presets are added to these (kept in localStorage). */
const BUILT_IN_PRESETS: Record<string, string> = {
  Concise: 'You are a helpful assistant. Answer briefly and directly.',
  'Code helper': 'You are an expert programmer. Answer with working code in fenced blocks and a short explanation.',
  'JSON only': 'Answer only with a single JSON object and nothing else.',
};
const PRESETS_KEY = 'hearth.playground.presets';

function savedPresets(): Record<string, string> {
  try {
    return JSON.parse(localStorage.getItem(PRESETS_KEY) ?? '{}') as Record<string, string>;
  } catch {
    return {};
  }
}

interface Turn extends Omit<ConversationMessage, 'timings'> {
  timings?: ChatTimings;
  streaming?: boolean;
}

export function PlaygroundView({ go }: ViewProps) {
  const { client, serve, setServe } = useHost();
  const ready = serve.state === 'ready';
  const [turns, setTurns] = useState<Turn[]>([]);
  const [input, setInput] = useState('');
  const [system, setSystem] = useState('');
  const [sampling, setSampling] = useState<SamplingControls>({ temperature: 0.7, topP: 0.95, maxTokens: 128 });
  const [seedText, setSeedText] = useState('');
  const abort = useRef<AbortController | null>(null);
  const streaming = turns.some((turn) => turn.streaming);
  const [conversationId, setConversationId] = useState<string | null>(null);
  const [query, setQuery] = useState('');
  const [saved, setSaved] = useState(0);
  const conversations = useAsync(() => client.conversations(query), [client, query], saved);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [presets, setPresets] = useState<Record<string, string>>(() => ({ ...BUILT_IN_PRESETS, ...savedPresets() }));
  // A library server serves every library model by name: the chat names the one picked here.
  const libraryServed = serve.state === 'ready' && serve.settings?.library !== undefined;
  const libraryNames = useAsync(async () => (libraryServed ? (await client.library()).models.filter((model) => model.variants.length > 0).map((model) => model.name) : []), [client, libraryServed]);
  const [pickedModel, setPickedModel] = useState(() => {
    const asked = sessionStorage.getItem(PLAYGROUND_MODEL_KEY) ?? '';
    sessionStorage.removeItem(PLAYGROUND_MODEL_KEY);
    return asked;
  });
  const savePreset = () => {
    const name = prompt('Save this system prompt as a preset named');
    if (!name?.trim()) return;
    const mine = { ...savedPresets(), [name.trim()]: system };
    localStorage.setItem(PRESETS_KEY, JSON.stringify(mine));
    setPresets({ ...BUILT_IN_PRESETS, ...mine });
  };

  const inputRef = useRef<HTMLTextAreaElement>(null);
  // The input takes the focus once there is a model to send to (the Models view's Chat action lands here while it loads).
  useEffect(() => {
    if (ready) inputRef.current?.focus();
  }, [ready]);

  const updateLast = (change: (turn: Turn) => Turn) => setTurns((all) => [...all.slice(0, -1), change(all[all.length - 1]!)]);

  /** Saves the conversation (creating it on its first reply); the list refreshes. */
  const persist = async (final: Turn[]) => {
    const messages: ConversationMessage[] = final.map(({ streaming: _streaming, timings, ...turn }) => ({
      ...turn,
      ...(timings ? { timings: { ttftMs: timings.ttftMs, totalMs: timings.totalMs, completionTokens: timings.completionTokens, tokensPerSec: timings.tokensPerSec, finishReason: timings.finishReason } } : {}),
    }));
    try {
      if (conversationId) await client.updateConversation(conversationId, { messages, systemPrompt: system });
      else setConversationId((await client.createConversation({ messages, systemPrompt: system })).id);
      setSaveError(null);
      setSaved((count) => count + 1);
    } catch (error) {
      setSaveError(error);
    }
  };

  /** Sends `text` after the turns `before` and streams the reply into a new assistant turn. */
  const run = async (before: Turn[], text: string) => {
    const history: ChatMessage[] = [
      ...(system.trim() ? [{ role: 'system' as const, content: system.trim() }] : []),
      ...before.filter((turn) => !turn.error).map((turn) => ({ role: turn.role, content: turn.content })),
      { role: 'user', content: text },
    ];
    const model = libraryServed ? pickedModel || (libraryNames.data?.[0] ?? '') : (serve.servedName ?? '');
    const user: Turn = { role: 'user', content: text };
    let reply: Turn = { role: 'assistant', content: '', streaming: true, model };
    setTurns([...before, user, reply]);
    const controller = new AbortController();
    abort.current = controller;
    const seed = seedText.trim() === '' ? undefined : Number(seedText);
    try {
      const timings = await streamChat(
        client,
        { model, messages: history, sampling: { ...sampling, seed } },
        (delta) => {
          reply = { ...reply, content: reply.content + (delta.content ?? ''), ...(delta.reasoning ? { reasoning: (reply.reasoning ?? '') + delta.reasoning } : {}) };
          updateLast(() => reply);
        },
        controller.signal,
      );
      reply = { ...reply, streaming: false, timings };
    } catch (error) {
      const message = controller.signal.aborted
        ? 'Stopped.'
        : error instanceof ChatError
          ? `${error.status}: ${error.message}`
          : `The stream broke: ${(error as Error).message}. Check the Serve tab and try again.`;
      reply = { ...reply, streaming: false, error: message };
    } finally {
      abort.current = null;
    }
    const final = [...before, user, reply];
    setTurns(final);
    await persist(final);
  };

  const send = async () => {
    const text = input.trim();
    if (!text || streaming || !ready) return;
    setInput('');
    await run(turns, text);
  };

  /** The last reply again, from the same history. */
  const regenerate = async () => {
    const lastUser = turns.length - 2;
    if (streaming || !ready || lastUser < 0 || turns[lastUser]!.role !== 'user') return;
    await run(turns.slice(0, lastUser), turns[lastUser]!.content);
  };

  /** Puts a user message back in the input and drops it and what followed; Send resends it. */
  const edit = (index: number) => {
    if (streaming) return;
    setInput(turns[index]!.content);
    setTurns(turns.slice(0, index));
  };

  const openConversation = async (id: string) => {
    if (streaming) return;
    const conversation = await client.conversation(id);
    setConversationId(conversation.id);
    setSystem(conversation.systemPrompt);
    setTurns(conversation.messages.map(({ timings, ...message }) => ({ ...message, ...(timings ? { timings: { ...timings, promptTokens: null, finishReason: timings.finishReason ?? null } } : {}) })));
  };
  const newConversation = () => {
    if (streaming) return;
    setConversationId(null);
    setTurns([]);
  };
  const rename = async (id: string, title: string) => {
    const next = prompt('Rename the conversation', title);
    if (next === null || next.trim() === '') return;
    await client.updateConversation(id, { title: next.trim() });
    setSaved((count) => count + 1);
  };
  const remove = async (id: string) => {
    if (!confirm('Delete this conversation?')) return;
    await client.deleteConversation(id);
    if (id === conversationId) newConversation();
    setSaved((count) => count + 1);
  };

  return (
    <div className="view playground" data-testid="view-playground">
      <h1>
        Playground{' '}
        {libraryServed ? (
          <select aria-label="Model" value={pickedModel || (libraryNames.data?.[0] ?? '')} onChange={(event) => setPickedModel(event.target.value)} data-testid="playground-model">
            {(libraryNames.data ?? []).map((name) => <option key={name} value={name}>{name}</option>)}
          </select>
        ) : (
          <span className="muted small">— {ready ? serve.servedName : 'no model served'}</span>
        )}
      </h1>
      <div className="playground-grid">
        <Card title="Conversations" testId="conversations" actions={<button type="button" onClick={newConversation} disabled={streaming} data-testid="conversation-new">New</button>}>
          <input aria-label="Search conversations" placeholder="Search" value={query} onChange={(event) => setQuery(event.target.value)} data-testid="conversation-search" />
          <ul className="conversation-list">
            {(conversations.data?.conversations ?? []).map((conversation) => (
              <li key={conversation.id} className={conversation.id === conversationId ? 'active' : ''}>
                <button type="button" className="link" onClick={() => void openConversation(conversation.id)} aria-current={conversation.id === conversationId ? 'true' : undefined} data-testid="conversation-item">
                  {conversation.title}
                </button>
                <span className="muted small">{conversation.messageCount} messages</span>
                <button type="button" className="chip-x" aria-label={`Rename ${conversation.title}`} onClick={() => void rename(conversation.id, conversation.title)}>✎</button>
                <button type="button" className="chip-x" aria-label={`Delete ${conversation.title}`} onClick={() => void remove(conversation.id)}>×</button>
              </li>
            ))}
          </ul>
          {saveError !== null && <div className="error-text">Not saved: {(saveError as Error).message}</div>}
        </Card>
        <Card title="Chat">
          {/* Screen readers hear replies as they stream in. */}
          <div className="chat" data-testid="chat" aria-live="polite">
            {turns.length === 0 && <Empty title="Say something to the model.">Messages stream in as they are generated.</Empty>}
            {turns.map((turn, index) => (
              <div key={index} className={`bubble bubble-${turn.role}${turn.error ? ' bubble-error' : ''}`} data-testid={`msg-${turn.role}`}>
                {turn.reasoning && (
                  // Open while the model is still thinking; collapsed once the answer starts.
                  <details className="reasoning" open={turn.streaming && !turn.content} data-testid="msg-reasoning">
                    <summary>Reasoning</summary>
                    <div className="reasoning-text">{turn.reasoning}</div>
                  </details>
                )}
                {turn.role === 'assistant' && turn.content ? (
                  <Markdown className="bubble-text" text={turn.content} />
                ) : (
                  <div className="bubble-text">{turn.content || (turn.streaming && !turn.reasoning ? '…' : '')}</div>
                )}
                {turn.error && <div className="error-text" data-testid="chat-error">{turn.error}</div>}
                {turn.timings && (
                  <div className="timings" data-testid="msg-timings">
                    {turn.model && <>{turn.model} · </>}TTFT {formatMs(turn.timings.ttftMs)} · total {formatMs(turn.timings.totalMs)} · {turn.timings.completionTokens ?? '?'} tokens · {formatRate(turn.timings.tokensPerSec)}
                    {turn.timings.finishReason === 'length' && ' · stopped at max tokens'}
                  </div>
                )}
                {!streaming && turn.role === 'user' && (
                  <button type="button" className="link small" onClick={() => edit(index)} data-testid="msg-edit">Edit</button>
                )}
                {!streaming && turn.role === 'assistant' && index === turns.length - 1 && (
                  <button type="button" className="link small" onClick={() => void regenerate()} disabled={!ready} title={ready ? undefined : 'Serve a model to regenerate'} data-testid="msg-regenerate">Regenerate</button>
                )}
              </div>
            ))}
          </div>
          {!ready && <ServeNotice serve={serve} conversationModel={turns.findLast((turn) => turn.model)?.model ?? null} go={go} onServe={async (name) => setServe(await serveForChat({ client, serve }, name))} />}
          <form className="chat-input" onSubmit={(event) => { event.preventDefault(); void send(); }}>
            <textarea
              value={input}
              onChange={(event) => setInput(event.target.value)}
              onKeyDown={(event) => {
                // Escape stops a reply that is streaming (as the Stop button does).
                if (event.key === 'Escape' && streaming) abort.current?.abort();
                if (event.key === 'Enter' && !event.shiftKey) {
                  event.preventDefault();
                  void send();
                }
              }}
              placeholder="Message (Enter to send, Shift+Enter for a new line)"
              rows={3}
              ref={inputRef}
              data-testid="chat-input"
            />
            <div className="column">
              {streaming ? (
                <button type="button" className="danger" onClick={() => abort.current?.abort()} title="Stop (Esc)" data-testid="chat-stop">Stop</button>
              ) : (
                <button type="submit" className="primary" disabled={!ready || !input.trim()} title={ready ? undefined : 'Serve a model to send'} data-testid="chat-send">Send</button>
              )}
              <button type="button" onClick={newConversation} disabled={streaming}>Clear</button>
            </div>
          </form>
        </Card>
        <Card title="Sampling">
          <div className="form-grid single">
            <label>
              System prompt preset
              <select value="" onChange={(event) => { if (event.target.value) setSystem(presets[event.target.value] ?? ''); }} data-testid="system-preset">
                <option value="">Choose a preset…</option>
                {Object.keys(presets).map((name) => <option key={name} value={name}>{name}</option>)}
              </select>
            </label>
            <label>System prompt<textarea rows={3} value={system} onChange={(event) => setSystem(event.target.value)} data-testid="system-prompt" /></label>
            <button type="button" onClick={savePreset} disabled={!system.trim()} data-testid="system-preset-save">Save as preset</button>
            <label>Temperature <strong>{sampling.temperature.toFixed(2)}</strong>
              <input type="range" min={0} max={2} step={0.05} value={sampling.temperature} onChange={(event) => setSampling({ ...sampling, temperature: Number(event.target.value) })} />
            </label>
            <label>Top-p <strong>{sampling.topP.toFixed(2)}</strong>
              <input type="range" min={0.05} max={1} step={0.05} value={sampling.topP} onChange={(event) => setSampling({ ...sampling, topP: Number(event.target.value) })} />
            </label>
            <label>Max tokens
              <input type="number" min={1} value={sampling.maxTokens} onChange={(event) => setSampling({ ...sampling, maxTokens: Number(event.target.value) })} data-testid="max-tokens" />
            </label>
            <label>Seed (empty = random)
              <input value={seedText} onChange={(event) => setSeedText(event.target.value.replace(/[^0-9]/g, ''))} />
            </label>
          </div>
        </Card>
      </div>
    </div>
  );
}

/**
 * Why Send is off while nothing is served, and the way back: serve the model the open conversation
 * used (when the library has it, as the Models view's Chat does), or pick one in the Serve view.
 */
function ServeNotice({ serve, conversationModel, go, onServe }: { serve: ServeStatus; conversationModel: string | null; go: ViewProps['go']; onServe: (name: string) => Promise<void> }) {
  const { client } = useHost();
  const library = useAsync(() => client.library(), [client]);
  const [error, setError] = useState<unknown>(null);
  const inLibrary = conversationModel !== null && (library.data?.models ?? []).some((model) => model.name === conversationModel);
  if (serve.state === 'starting') {
    return <div className="notice" role="status" data-testid="playground-serve-notice">Loading {serve.settings?.model ?? 'the model'}… Send works once it is loaded.</div>;
  }
  const serveIt = async () => {
    try {
      setError(null);
      await onServe(conversationModel!);
    } catch (reason) {
      setError(reason);
    }
  };
  return (
    <div className="notice" role="status" data-testid="playground-serve-notice">
      <div>
        {serve.state === 'failed' ? 'The model could not be served' : 'No model is being served'}
        {conversationModel ? <>: this conversation was with <strong data-testid="playground-conversation-model">{conversationModel}</strong>. </> : '. '}
        Serve a model to send or regenerate; reading, renaming and deleting conversations work without one.
      </div>
      {serve.state === 'failed' && serve.error && <div className="error-text" data-testid="playground-serve-error">{serve.error}</div>}
      {error !== null && <div className="error-text">{(error as Error).message}</div>}
      <div className="notice-actions">
        {inLibrary && <button type="button" className="primary" onClick={() => void serveIt()} data-testid="playground-serve-model">Serve {conversationModel}</button>}
        <button type="button" onClick={() => go('serve')} data-testid="playground-open-serve">{inLibrary ? 'Another model…' : 'Open Serve'}</button>
      </div>
    </div>
  );
}
