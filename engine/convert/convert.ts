// Converts a Hugging Face safetensors checkpoint into a Hearth model package. The package is
// assembled in a hidden temporary directory beside the output and renamed into place only when
// complete, so a failed or interrupted conversion never leaves something that looks like a
// package. Conversion is synchronous file I/O per tensor, yielding to the event loop between
// layers so progress, cancellation and signal handlers can run.
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ModelDtype, ModelManifest } from '../common/manifest.js';
import { HEARTH_VERSION } from '../common/version.js';
import { DEFAULT_INT4_LAYOUT, int4BlockSizeProblem, packageTensors, type Int4Layout, type PackageTensor } from '../common/memoryEstimate.js';
import { WeightSource } from './architectures.js';
import { Checkpoint } from './checkpoint.js';
import { ConvertError } from '../common/convertError.js';
import { buildDecoderGraph, graphContract, OPSETS } from './decoderGraph.js';
import { parseModelConfig, tensorLayoutOf } from '../common/modelConfig.js';
import { ExternalDataWriter } from './onnx/externalData.js';
import { GraphBuilder } from './onnx/graphBuilder.js';
import { onnx } from './onnx/proto.js';
import { halfPrecisionVariant, readAt } from './halfGraph.js';
import type { ProgressListener } from './progress.js';
import { readTokenizerInfo } from './tokenizerInfo.js';
import { PACKAGE_FILES } from './modelPackage.js';
import { isProcessAlive } from '../store/processAlive.js';

export { PACKAGE_FILES };

export const CONVERTER_VERSION = `hearth-convert/${HEARTH_VERSION}+gqa-v2`;

export interface ConvertOptions {
  checkpointDir: string;
  outDir: string;
  dtype: ModelDtype;
  /** Model name for the API; defaults to the checkpoint directory's name. */
  name?: string;
  /** Hub provenance when the checkpoint was downloaded (recorded in the manifest). */
  source?: { repo?: string; revision?: string };
  onProgress?: ProgressListener;
  /** MatMulNBits accuracy_level for int4 (default 4: int8 activations, fastest on CPU). */
  int4AccuracyLevel?: number;
  /** int4 input features per block, one of INT4_BLOCK_SIZES (default 32; recorded in the manifest). */
  int4BlockSize?: number;
  /**
   * Cancels the conversion (checked between layers and before the final rename); the promise
   * then rejects with the signal's reason and the temporary directory is removed. The CLI
   * wires Ctrl-C to it.
   */
  signal?: AbortSignal;
  /**
   * Awaited between layers, just before the cancellation check: lets a caller hold a conversion
   * at a known point (the CLI's test hook, so an interrupt test never races the converter).
   */
  beforeLayer?: (layerIndex: number) => Promise<void> | void;
  /** Row-chunk size for streaming large tables (tests only; default 16 MiB). */
  rowChunkBytes?: number;
}

export async function convertCheckpoint(options: ConvertOptions): Promise<ModelManifest> {
  const checkpointDir = resolve(options.checkpointDir);
  const outDir = resolve(options.outDir);
  if (existsSync(outDir) && (!statSync(outDir).isDirectory() || readdirSync(outDir).length > 0)) {
    throw new ConvertError(`${outDir} already exists. Remove it or choose another --out directory.`);
  }
  const int4BlockSize = options.int4BlockSize ?? DEFAULT_INT4_LAYOUT.blockSize;
  const blockProblem = int4BlockSizeProblem(int4BlockSize);
  if (blockProblem) throw new ConvertError(`int4 block size ${blockProblem} (got ${int4BlockSize}).`);
  const int4Layout: Int4Layout = { ...DEFAULT_INT4_LAYOUT, blockSize: int4BlockSize };
  const checkpoint = Checkpoint.open(checkpointDir);
  try {
    const config = parseModelConfig(checkpoint.config);
    const weights = new WeightSource(checkpoint, config.architecture, config.shape, config.features);
    if (!weights.hasLmHead()) config.shape.tiedEmbeddings = true;
    const { tokenizer, generation } = readTokenizerInfo(checkpointDir, config.eosTokenIds);
    const files = await checkpoint.sourceFiles();

    options.signal?.throwIfAborted();
    const tempDir = makeTempDir(outDir);
    try {
      const needed = weights.tensorNames().filter((name) => checkpoint.has(name));
      const tensorsTotal = needed.length;
      const bytesTotal = needed.reduce((sum, name) => sum + checkpoint.info(name).byteLength, 0);
      // Tensors may be read in row chunks, and a tied int4 lm_head re-reads the embedding:
      // count each tensor's bytes once.
      const bytesByTensor = new Map<string, number>();
      let tensorsDone = 0;
      let bytesDone = 0;
      checkpoint.onRead = (info, bytesRead) => {
        const before = bytesByTensor.get(info.name) ?? 0;
        const after = Math.min(info.byteLength, before + bytesRead);
        if (before === info.byteLength) return;
        bytesByTensor.set(info.name, after);
        bytesDone += after - before;
        if (after === info.byteLength) tensorsDone++;
        options.onProgress?.({ tensorsDone, tensorsTotal, bytesDone, bytesTotal });
      };

      const data = new ExternalDataWriter(join(tempDir, PACKAGE_FILES.modelData), PACKAGE_FILES.modelData);
      let weightsBytes: number;
      let graph: GraphBuilder;
      try {
        graph = new GraphBuilder(data);
        await buildDecoderGraph(graph, weights, {
          dtype: options.dtype,
          shape: config.shape,
          ropeScaling: config.ropeScaling,
          features: config.features,
          int4AccuracyLevel: options.int4AccuracyLevel ?? 4,
          int4Layout,
          signal: options.signal,
          beforeLayer: options.beforeLayer,
          rowChunkBytes: options.rowChunkBytes,
        });
        assertFollowsPlan(graph.stored, packageTensors({ ...config.shape, attentionBias: weights.hasAttentionBias(), ...tensorLayoutOf(config.features) }, options.dtype, int4Layout));
        writeFileSync(join(tempDir, PACKAGE_FILES.model), graph.encodeModel(OPSETS, CONVERTER_VERSION));
        weightsBytes = data.totalBytes;
      } finally {
        data.close();
      }
      // fp16 and int4 packages also get the half-precision device graph (GPUs with shader-f16).
      const hasHalfVariant = options.dtype !== 'fp32';
      if (hasHalfVariant) {
        const fd = openSync(join(tempDir, PACKAGE_FILES.modelData), 'r');
        try {
          const half = halfPrecisionVariant(graph.buildModel(OPSETS, CONVERTER_VERSION), 'logits', (offset, length) => readAt(fd, offset, length));
          writeFileSync(join(tempDir, PACKAGE_FILES.modelF16), onnx.ModelProto.encode(half).finish());
        } finally {
          closeSync(fd);
        }
      }

      const packageFiles: ModelManifest['files'] = {
        model: PACKAGE_FILES.model, modelData: PACKAGE_FILES.modelData, tokenizer: 'tokenizer.json', tokenizerConfig: 'tokenizer_config.json',
        ...(hasHalfVariant ? { modelF16: PACKAGE_FILES.modelF16 } : {}),
      };
      copyFileSync(join(checkpointDir, 'tokenizer.json'), join(tempDir, 'tokenizer.json'));
      copyFileSync(join(checkpointDir, 'tokenizer_config.json'), join(tempDir, 'tokenizer_config.json'));
      if (existsSync(join(checkpointDir, 'generation_config.json'))) {
        copyFileSync(join(checkpointDir, 'generation_config.json'), join(tempDir, 'generation_config.json'));
        packageFiles.generationConfig = 'generation_config.json';
      }
      if (tokenizer.chatTemplate !== null) {
        writeFileSync(join(tempDir, 'chat_template.jinja'), tokenizer.chatTemplate);
        packageFiles.chatTemplate = 'chat_template.jinja';
      }
      const manifest: ModelManifest = {
        formatVersion: 1,
        converterVersion: CONVERTER_VERSION,
        createdAt: new Date().toISOString(),
        name: options.name ?? basename(checkpointDir),
        source: { ...options.source, path: checkpointDir, files },
        architecture: config.architecture,
        hfArchitecture: config.hfArchitecture,
        dtype: options.dtype,
        ...(options.dtype === 'int4' ? { quantization: { int4BlockSize } } : {}),
        shape: config.shape,
        graph: graphContract(config.shape),
        tokenizer,
        generation,
        files: packageFiles,
        weightsBytes,
      };
      writeFileSync(join(tempDir, PACKAGE_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
      options.signal?.throwIfAborted();
      // rename(2) replaces an empty directory and fails on a non-empty one, so a package that
      // appeared meanwhile is never clobbered.
      renameSync(tempDir, outDir);
      return manifest;
    } catch (error) {
      rmSync(tempDir, { recursive: true, force: true });
      if (isNodeError(error) && (error.code === 'ENOTEMPTY' || error.code === 'EEXIST') && error.syscall === 'rename') {
        throw new ConvertError(`${outDir} appeared while converting (another conversion to the same place?); it was left untouched. Remove it or choose another --out directory.`);
      }
      if (isNodeError(error) && (error.code === 'ENOSPC' || error.code === 'EACCES' || error.code === 'EROFS')) {
        throw new ConvertError(`could not write the package to ${outDir}: ${error.message}. Free some space or choose another --out directory.`);
      }
      throw error;
    }
  } finally {
    checkpoint.close();
  }
}

/** A hidden sibling of outDir, so the final rename stays on one filesystem. */
function makeTempDir(outDir: string): string {
  const parent = dirname(outDir);
  const prefix = `.${basename(outDir)}.partial-`;
  const tempDir = join(parent, `${prefix}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(parent, { recursive: true });
    removeAbandonedTempDirs(parent, prefix);
    mkdirSync(tempDir);
  } catch (error) {
    throw new ConvertError(`cannot write to ${parent}: ${(error as Error).message}. Choose an --out directory you can write to.`);
  }
  return tempDir;
}

/** A conversion killed outright (SIGKILL, power loss) cannot clean up; the next one does. */
function removeAbandonedTempDirs(parent: string, prefix: string): void {
  for (const name of readdirSync(parent)) {
    const pid = name.startsWith(prefix) ? Number(name.slice(prefix.length).split('-')[0]) : NaN;
    if (Number.isInteger(pid) && pid > 0 && !isProcessAlive(pid)) rmSync(join(parent, name), { recursive: true, force: true });
  }
}


function isNodeError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

/**
 * The memory estimate sizes models from the plan of tensors in engine/common/memoryEstimate.ts
 * (packageTensors) before anything is downloaded; every package the converter writes is checked
 * against that plan, tensor by tensor, so the two cannot drift apart.
 */
export function assertFollowsPlan(stored: readonly { name: string; bytes: number }[], plan: readonly PackageTensor[]): void {
  const planned = plan.filter((tensor) => tensor.bytes > 0);
  const count = Math.max(stored.length, planned.length);
  for (let i = 0; i < count; i++) {
    const wrote = stored[i];
    const expected = planned[i];
    if (wrote?.name !== expected?.name || wrote?.bytes !== expected?.bytes) {
      const describe = (tensor: { name: string; bytes: number } | undefined) => (tensor ? `${tensor.name} (${tensor.bytes} bytes)` : 'nothing');
      throw new Error(
        `The converter wrote ${describe(wrote)} as tensor ${i}, where the package plan (packageTensors in engine/common/memoryEstimate.ts) has ${describe(expected)}. ` +
          'Update the plan with the converter: memory estimates and fit checks are computed from it.',
      );
    }
  }
}
