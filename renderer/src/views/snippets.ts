// Copy-paste client snippets for the running endpoint.
export interface SnippetTarget {
  baseUrl: string;
  model: string;
  apiKey?: string;
}

export function curlSnippet({ baseUrl, model, apiKey }: SnippetTarget): string {
  return [
    `curl ${baseUrl}/chat/completions \\`,
    `  -H "Content-Type: application/json" \\`,
    ...(apiKey ? [`  -H "Authorization: Bearer $HEARTH_API_KEY" \\`] : []),
    `  -d '{"model": ${JSON.stringify(model)}, "messages": [{"role": "user", "content": "Hello!"}], "stream": true}'`,
  ].join('\n');
}

export function openaiSnippet({ baseUrl, model, apiKey }: SnippetTarget): string {
  return `import OpenAI from 'openai';

const client = new OpenAI({
  baseURL: '${baseUrl}',
  apiKey: ${apiKey ? 'process.env.HEARTH_API_KEY' : "'not-needed'"},
});

const stream = await client.chat.completions.create({
  model: ${JSON.stringify(model)},
  messages: [{ role: 'user', content: 'Hello!' }],
  stream: true,
});
for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? '');`;
}

export function langchainSnippet({ baseUrl, model, apiKey }: SnippetTarget): string {
  return `import { ChatOpenAI } from '@langchain/openai';

const llm = new ChatOpenAI({
  model: ${JSON.stringify(model)},
  apiKey: ${apiKey ? 'process.env.HEARTH_API_KEY' : "'not-needed'"},
  configuration: { baseURL: '${baseUrl}' },
});

const reply = await llm.invoke('Hello!');
console.log(reply.content);`;
}
