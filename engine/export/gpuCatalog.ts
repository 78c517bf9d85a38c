// Target GPUs and what an hour of one costs. Both tables are defaults: the CLI (`--gpus`,
// `--prices` JSON files) and the Export view let users replace them with their own quotes.
//
// Prices are on-demand list prices in USD per hour for ONE GPU together with the smallest host
// the clouds sell with it, because that is what a replica costs. Approximate, checked against
// the providers' public pricing pages; verify before budgeting:
// - T4: GCP, $0.35/h per T4 + n1-standard-8 host $0.38/h = $0.73/h (the seed article's figures;
//   https://cloud.google.com/compute/gpus-pricing, https://cloud.google.com/compute/vm-instance-pricing).
// - L4: GCP g2-standard-8 (1 × L4 included), ≈ $0.85/h (https://cloud.google.com/compute/vm-instance-pricing#accelerator-optimized).
// - A10G: AWS g5.2xlarge (1 × A10G, 8 vCPU, 32 GiB), ≈ $1.21/h (https://aws.amazon.com/ec2/instance-types/g5/);
//   Hugging Face Inference Endpoints list nvidia-a10g at $1.20/h.
// - A100 40GB: GCP a2-highgpu-1g, ≈ $3.67/h; A100 80GB: GCP a2-ultragpu-1g, ≈ $5.07/h
//   (https://cloud.google.com/compute/gpus-pricing). HF Endpoints: $4.50/h and $5.00/h.
// - H100 80GB: GCP a3-highgpu-8g is ≈ $88.5/h for 8 GPUs, ≈ $11.06/h per GPU with its host share;
//   bare-metal clouds quote far less (the seed article: $2.00/h on GMI Cloud) — edit to your quote.

export interface GpuSpec {
  /** Short name used in tables and flags, e.g. 'L4'. */
  name: string;
  memoryBytes: number;
  /** Vertex AI / GCE accelerator type (`--accelerator=type=...`), when Google Cloud sells it. */
  gcpAccelerator?: string;
  /** Smallest Vertex AI machine type for one of these GPUs. */
  gcpMachineType?: string;
  /** Kubernetes node label value on GKE (`cloud.google.com/gke-accelerator`). */
  gkeAccelerator?: string;
}

export interface GpuPrice {
  gpu: string;
  /** USD per hour for one GPU including its host share. */
  usdPerHour: number;
}

const GB = 1e9;
const GiB = 2 ** 30;

// NVIDIA quotes "16 GB" for the T4 and "24 GB" for L4/A10G; the usable device memory nvidia-smi
// reports is slightly less (T4: 15360 MiB, L4/A10G: 23034 MiB). Use what the driver reports.
export const DEFAULT_GPUS: readonly GpuSpec[] = [
  { name: 'T4', memoryBytes: 15360 * 2 ** 20, gcpAccelerator: 'nvidia-tesla-t4', gcpMachineType: 'n1-standard-8', gkeAccelerator: 'nvidia-tesla-t4' },
  { name: 'L4', memoryBytes: 23034 * 2 ** 20, gcpAccelerator: 'nvidia-l4', gcpMachineType: 'g2-standard-8', gkeAccelerator: 'nvidia-l4' },
  { name: 'A10G', memoryBytes: 23028 * 2 ** 20 },
  { name: 'A100-40GB', memoryBytes: 40 * GiB, gcpAccelerator: 'nvidia-tesla-a100', gcpMachineType: 'a2-highgpu-1g', gkeAccelerator: 'nvidia-tesla-a100' },
  { name: 'A100-80GB', memoryBytes: 80 * GiB, gcpAccelerator: 'nvidia-a100-80gb', gcpMachineType: 'a2-ultragpu-1g', gkeAccelerator: 'nvidia-a100-80gb' },
  { name: 'H100-80GB', memoryBytes: 80 * GiB, gcpAccelerator: 'nvidia-h100-80gb', gcpMachineType: 'a3-highgpu-1g', gkeAccelerator: 'nvidia-h100-80gb' },
];

export const DEFAULT_PRICES: readonly GpuPrice[] = [
  { gpu: 'T4', usdPerHour: 0.73 },
  { gpu: 'L4', usdPerHour: 0.85 },
  { gpu: 'A10G', usdPerHour: 1.21 },
  { gpu: 'A100-40GB', usdPerHour: 3.67 },
  { gpu: 'A100-80GB', usdPerHour: 5.07 },
  { gpu: 'H100-80GB', usdPerHour: 11.06 },
];

/** Hours in an average month (365 × 24 / 12), the convention cloud price pages use. */
export const HOURS_PER_MONTH = 730;

export function findGpu(gpus: readonly GpuSpec[], name: string): GpuSpec {
  const wanted = name.toLowerCase().replace(/[\s_]/g, '-');
  const gpu = gpus.find((candidate) => candidate.name.toLowerCase() === wanted)
    ?? gpus.find((candidate) => candidate.name.toLowerCase().startsWith(wanted));
  if (!gpu) throw new Error(`unknown GPU '${name}'; known: ${gpus.map((candidate) => candidate.name).join(', ')} (add it with --gpus FILE)`);
  return gpu;
}

/** Validates a user-edited GPU table (JSON) and returns it. */
export function parseGpuTable(value: unknown): GpuSpec[] {
  if (!Array.isArray(value) || value.length === 0) throw new Error('the GPU table must be a non-empty JSON array of {name, memoryBytes | memoryGB}');
  return value.map((entry, i) => {
    const record = entry as Record<string, unknown>;
    const name = record.name;
    const memoryBytes = typeof record.memoryBytes === 'number' ? record.memoryBytes : typeof record.memoryGB === 'number' ? record.memoryGB * GB : NaN;
    if (typeof name !== 'string' || !name) throw new Error(`GPU table entry ${i} has no name`);
    if (!(memoryBytes > 0)) throw new Error(`GPU table entry '${name}' needs memoryBytes or memoryGB > 0`);
    return { ...(record as object), name, memoryBytes } as GpuSpec;
  });
}

/** Validates a user-edited price table (JSON array of {gpu, usdPerHour}). */
export function parsePriceTable(value: unknown): GpuPrice[] {
  if (!Array.isArray(value)) throw new Error('the price table must be a JSON array of {gpu, usdPerHour}');
  return value.map((entry, i) => {
    const record = entry as Record<string, unknown>;
    if (typeof record.gpu !== 'string' || typeof record.usdPerHour !== 'number' || !(record.usdPerHour >= 0)) {
      throw new Error(`price table entry ${i} must be {"gpu": "<name>", "usdPerHour": <number ≥ 0>}`);
    }
    return { gpu: record.gpu, usdPerHour: record.usdPerHour };
  });
}
