// A model's reply as Markdown (GFM: code blocks, lists, tables), sanitized before it reaches the
// DOM: model text is untrusted, so raw HTML in it never runs (DOMPurify strips scripts, handlers
// and javascript: links).
import DOMPurify from 'dompurify';
import { marked } from 'marked';
import { useMemo } from 'react';

export function renderMarkdown(text: string): string {
  return DOMPurify.sanitize(marked.parse(text, { async: false, gfm: true, breaks: true }));
}

export function Markdown({ text, className }: { text: string; className?: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  // data-source: the text as the model wrote it (rendered Markdown drops its syntax characters).
  return <div className={`markdown ${className ?? ''}`} data-source={text} dangerouslySetInnerHTML={{ __html: html }} />;
}
