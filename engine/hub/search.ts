// Hub search for text-generation models, shaped for the library UI and `hearth search`: size
// (parameters and approximate checkpoint bytes), license, gated flag, last update, downloads, likes.
import { listModels } from '@huggingface/hub';
import { hubErrorFrom, hubSettings, type HubOptions } from './hubSettings.js';

export type SearchSort = 'downloads' | 'likes' | 'recent';

export interface SearchOptions {
  query?: string;
  sort?: SearchSort;
  /** Only repos with weights in this format. */
  library?: 'safetensors' | 'onnx';
  /** Default 20. */
  limit?: number;
  hub?: HubOptions;
}

export interface ModelSearchResult {
  id: string;
  author: string;
  /** false, or how access is granted: 'auto' (accept terms) / 'manual' (authors approve). */
  gated: false | 'auto' | 'manual';
  private: boolean;
  license: string | null;
  downloads: number;
  likes: number;
  /** ISO timestamp of the last commit. */
  lastModified: string;
  libraryName: string | null;
  pipelineTag: string | null;
  /** Parameters in the safetensors weights, when the Hub knows. */
  numParams: number | null;
  /** Approximate checkpoint bytes (parameters × their stored dtype size), when known. */
  sizeBytes: number | null;
  tags: string[];
}

const DTYPE_BYTES: Record<string, number> = { F64: 8, I64: 8, F32: 4, I32: 4, BF16: 2, F16: 2, I16: 2, F8_E4M3: 1, F8_E5M2: 1, I8: 1, U8: 1, BOOL: 1 };

export async function searchModels(options: SearchOptions = {}): Promise<ModelSearchResult[]> {
  const settings = hubSettings(options.hub);
  const results: ModelSearchResult[] = [];
  try {
    for await (const model of listModels({
      hubUrl: settings.endpoint,
      fetch: settings.fetch,
      search: { query: options.query || undefined, task: 'text-generation', tags: options.library ? [options.library] : undefined },
      sort: options.sort === 'recent' ? 'lastModified' : (options.sort ?? 'downloads'),
      limit: options.limit ?? 20,
      additionalFields: ['tags', 'library_name', 'safetensors', 'cardData'],
    })) {
      results.push(toResult(model));
    }
  } catch (error) {
    throw hubErrorFrom(error, options.query ?? '', settings, 'Searching the Hub');
  }
  return results;
}

interface ListedModel {
  name: string;
  private: boolean;
  gated: false | 'auto' | 'manual';
  task?: string;
  likes: number;
  downloads: number;
  updatedAt: Date;
  tags?: string[];
  library_name?: string;
  safetensors?: { parameters: Record<string, number>; total: number };
  cardData?: unknown;
}

export function toResult(model: ListedModel): ModelSearchResult {
  const tags = model.tags ?? [];
  const cardLicense = (model.cardData as { license?: unknown } | undefined)?.license;
  const license = typeof cardLicense === 'string' ? cardLicense : (tags.find((tag) => tag.startsWith('license:'))?.slice('license:'.length) ?? null);
  const parameters = model.safetensors?.parameters;
  const sizeBytes = parameters ? Object.entries(parameters).reduce((sum, [dtype, count]) => sum + count * (DTYPE_BYTES[dtype] ?? 2), 0) : null;
  return {
    id: model.name,
    author: model.name.split('/')[0] ?? '',
    gated: model.gated ?? false,
    private: model.private,
    license,
    downloads: model.downloads ?? 0,
    likes: model.likes ?? 0,
    lastModified: model.updatedAt.toISOString(),
    libraryName: model.library_name ?? null,
    pipelineTag: model.task ?? null,
    numParams: model.safetensors?.total ?? null,
    sizeBytes,
    tags,
  };
}
