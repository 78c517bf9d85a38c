// Opens a Hugging Face checkpoint directory: checks the files a conversion needs, refuses
// pickle checkpoints, hashes every input file and indexes tensors across safetensors shards.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SourceFile } from '../common/manifest.js';
import { ConvertError } from '../common/convertError.js';
import { SafetensorsFile, type TensorInfo } from './safetensors.js';

export const REQUIRED_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;
const OPTIONAL_FILES = ['generation_config.json', 'special_tokens_map.json', 'chat_template.jinja'];

export class Checkpoint {
  /** Called after each read (progress reporting) with the tensor and the bytes just read. */
  onRead: ((info: TensorInfo, bytesRead: number) => void) | null = null;

  private constructor(
    readonly dir: string,
    readonly config: Record<string, unknown>,
    readonly weightFiles: string[],
    private readonly shards: Map<string, SafetensorsFile>,
    private readonly tensorShard: Map<string, string>,
  ) {}

  static open(dir: string): Checkpoint {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConvertError(`checkpoint directory ${dir} does not exist.`);
    const names = new Set(readdirSync(dir));
    const weightFiles = findWeightFiles(dir, names);
    const missing = REQUIRED_FILES.filter((name) => !names.has(name));
    if (missing.length > 0) {
      throw new ConvertError(`${dir} is missing ${missing.join(', ')}. A Hugging Face checkpoint needs config.json, tokenizer.json, tokenizer_config.json and model.safetensors (or shards with model.safetensors.index.json).`);
    }
    const config = readJson(join(dir, 'config.json'));
    const shards = new Map<string, SafetensorsFile>();
    const tensorShard = new Map<string, string>();
    try {
      for (const file of weightFiles) {
        const shard = SafetensorsFile.open(join(dir, file));
        shards.set(file, shard);
        for (const name of shard.tensors.keys()) {
          if (tensorShard.has(name)) throw new ConvertError(`tensor '${name}' appears in both ${tensorShard.get(name)} and ${file}; the checkpoint is inconsistent.`);
          tensorShard.set(name, file);
        }
      }
    } catch (error) {
      for (const shard of shards.values()) shard.close();
      throw error;
    }
    return new Checkpoint(dir, config, weightFiles, shards, tensorShard);
  }

  has(name: string): boolean {
    return this.tensorShard.has(name);
  }

  get tensorNames(): string[] {
    return [...this.tensorShard.keys()];
  }

  info(name: string): TensorInfo {
    return this.shardOf(name).info(name);
  }

  /** Reads one tensor as float32, checking its shape; `rows` limits a 2-D read to a row range. */
  read(name: string, expectedShape: number[], rows?: { start: number; end: number }): Float32Array {
    const shard = this.shardOf(name);
    const info = shard.info(name);
    const { shape } = info;
    if (shape.length !== expectedShape.length || shape.some((d, i) => d !== expectedShape[i])) {
      throw new ConvertError(`tensor '${name}' has shape [${shape.join(', ')}] but config.json implies [${expectedShape.join(', ')}]; the checkpoint and its config.json do not match.`);
    }
    const values = shard.readFloat32(name, rows);
    const rowCount = rows ? rows.end - rows.start : shape[0] ?? 1;
    this.onRead?.(info, shape.length === 0 || shape[0] === 0 ? info.byteLength : (info.byteLength / shape[0]!) * rowCount);
    return values;
  }

  /** Every input file (config, tokenizer, weights) with its size and sha256. */
  async sourceFiles(): Promise<SourceFile[]> {
    const names = [...REQUIRED_FILES, ...OPTIONAL_FILES.filter((name) => existsSync(join(this.dir, name)))];
    if (existsSync(join(this.dir, 'model.safetensors.index.json'))) names.push('model.safetensors.index.json');
    names.push(...this.weightFiles);
    const files: SourceFile[] = [];
    for (const name of names) {
      const path = join(this.dir, name);
      files.push({ name, bytes: statSync(path).size, sha256: await sha256File(path) });
    }
    return files;
  }

  close(): void {
    for (const shard of this.shards.values()) shard.close();
  }

  private shardOf(name: string): SafetensorsFile {
    const file = this.tensorShard.get(name);
    if (!file) throw new ConvertError(`the checkpoint has no tensor '${name}', which this architecture needs. Is config.json for a different model?`);
    return this.shards.get(file)!;
  }
}

function findWeightFiles(dir: string, names: Set<string>): string[] {
  if (names.has('model.safetensors.index.json')) {
    const index = readJson(join(dir, 'model.safetensors.index.json'));
    const weightMap = index.weight_map;
    if (typeof weightMap !== 'object' || weightMap === null) throw new ConvertError('model.safetensors.index.json has no weight_map object.');
    const files = [...new Set(Object.values(weightMap as Record<string, unknown>).map(String))].sort();
    const missing = files.filter((file) => !names.has(file));
    if (missing.length > 0) throw new ConvertError(`model.safetensors.index.json lists shards that are missing: ${missing.join(', ')}. Download them too.`);
    return files;
  }
  if (names.has('model.safetensors')) return ['model.safetensors'];
  const pickles = [...names].filter((name) => /^pytorch_model.*\.bin$/.test(name) || name.endsWith('.pt') || name.endsWith('.pth'));
  if (pickles.length > 0) {
    throw new ConvertError(`${dir} has only PyTorch pickle weights (${pickles.join(', ')}). hearth refuses them because loading a pickle can execute arbitrary code. Use a revision of the model that ships model.safetensors (many Hub repos have one under refs/pr/ or a 'safetensors' branch), or convert it to safetensors in a sandbox you trust.`);
  }
  throw new ConvertError(`${dir} has no weights: expected model.safetensors, or model.safetensors.index.json with its shards.`);
}

function readJson(path: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConvertError(`${path} is not valid JSON (${(error as Error).message}).`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConvertError(`${path} must contain a JSON object.`);
  return parsed as Record<string, unknown>;
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
