// A hadolint-like linter for the generated Dockerfile, on dockerfile-ast's parse tree. Rules
// (hadolint's codes where one exists):
//   multi-stage        at least two stages
//   pinned-base        every external base image has an exact tag or digest (DL3006), never `latest` (DL3007)
//   stage-ref          COPY --from names an earlier stage
//   non-root           the target's last USER is set and is not root/0 (DL3002)
//   healthcheck        the target has a HEALTHCHECK that is not NONE
//   entrypoint-exec    ENTRYPOINT and CMD use the JSON exec form (DL3025), so signals reach Node
//   expose             the target EXPOSEs a port
//   apt-hygiene        apt-get install uses -y and --no-install-recommends (DL3014, DL3015) and cleans its lists (DL3009)
//   no-sudo            no sudo (DL3004)
//   workdir-absolute   WORKDIR is absolute (DL3000)
//   copy-not-add       ADD only for URLs/archives, never plain files (DL3020)
import { DockerfileParser, type Copy, type Instruction, type From, type JSONInstruction } from 'dockerfile-ast';

export interface LintFinding {
  rule: string;
  line: number;
  message: string;
}

interface Stage {
  name: string | null;
  from: From;
  /** The stage this one builds on, when its base is an earlier stage. */
  parent: Stage | null;
  instructions: Instruction[];
}

function stagesOf(content: string): Stage[] {
  const dockerfile = DockerfileParser.parse(content);
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const from = instruction as From;
      const base = from.getImage();
      const parent = stages.find((stage) => stage.name !== null && stage.name === base) ?? null;
      stages.push({ name: from.getBuildStage(), from, parent, instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1]!.instructions.push(instruction);
    }
  }
  return stages;
}

/** Instructions a target stage ends up with, oldest ancestor first. */
function chainOf(stage: Stage): Instruction[] {
  const chain: Stage[] = [];
  for (let current: Stage | null = stage; current; current = current.parent) chain.unshift(current);
  return chain.flatMap((item) => item.instructions);
}

const line = (instruction: Instruction) => instruction.getRange().start.line + 1;

/** Lints the whole file plus each of `targets` (default: the last stage) as a runnable image. */
export function lintDockerfile(content: string, targets?: string[]): LintFinding[] {
  const findings: LintFinding[] = [];
  const add = (rule: string, at: number, message: string) => findings.push({ rule, line: at, message });
  const stages = stagesOf(content);
  if (stages.length < 2) add('multi-stage', 1, `only ${stages.length} stage(s); build dependencies should stay out of the runtime image`);

  const names = new Set<string>();
  for (const stage of stages) {
    const image = stage.from.getImage() ?? '';
    if (!stage.parent && image !== 'scratch') {
      const tag = stage.from.getImageTag();
      const digest = stage.from.getImageDigest();
      if (!tag && !digest) add('pinned-base', line(stage.from), `base image '${image}' has no tag: pin an exact version`);
      if (tag === 'latest') add('pinned-base', line(stage.from), `base image '${image}' uses 'latest': pin an exact version`);
      if (image.includes('$')) add('pinned-base', line(stage.from), `base image '${image}' is a variable; the linter cannot check it is pinned`);
    }
    for (const instruction of stage.instructions) {
      const keyword = instruction.getKeyword();
      const args = instruction.getArgumentsContent() ?? '';
      if (keyword === 'COPY') {
        // Flags are not part of the arguments in dockerfile-ast's tree.
        const from = (instruction as Copy).getFromFlag()?.getValue() ?? undefined;
        if (from && !names.has(from) && !from.includes('/') && !from.includes(':')) add('stage-ref', line(instruction), `COPY --from=${from} names no earlier stage`);
      }
      if (keyword === 'RUN') {
        if (/\bsudo\b/.test(args)) add('no-sudo', line(instruction), 'do not use sudo');
        if (/apt-get\s+install/.test(args)) {
          if (!/--no-install-recommends/.test(args)) add('apt-hygiene', line(instruction), 'apt-get install without --no-install-recommends');
          if (!/\s-y\b|--yes/.test(args)) add('apt-hygiene', line(instruction), 'apt-get install without -y');
          if (!/rm -rf \/var\/lib\/apt\/lists/.test(args)) add('apt-hygiene', line(instruction), 'apt lists are not removed in the same layer');
        }
      }
      if (keyword === 'WORKDIR' && !args.startsWith('/') && !args.startsWith('$')) add('workdir-absolute', line(instruction), `WORKDIR ${args} is relative`);
      if (keyword === 'ADD' && !/https?:\/\/|\.tar/.test(args)) add('copy-not-add', line(instruction), 'use COPY for plain files');
      if (/\blatest\b/.test(args) && (keyword === 'RUN' || keyword === 'COPY')) add('pinned-base', line(instruction), `'latest' in ${keyword}: pin versions`);
    }
    if (stage.name) names.add(stage.name);
  }

  const targetStages = targets
    ? targets.map((name) => {
        const stage = stages.find((candidate) => candidate.name === name);
        if (!stage) add('stage-ref', 1, `target stage '${name}' does not exist`);
        return stage;
      })
    : [stages[stages.length - 1]];
  for (const stage of targetStages) {
    if (!stage) continue;
    const label = stage.name ?? 'final stage';
    const chain = chainOf(stage);
    const last = (keyword: string) => chain.filter((instruction) => instruction.getKeyword() === keyword).at(-1);
    const user = last('USER');
    const userName = user?.getArgumentsContent()?.split(':')[0]?.trim();
    if (!user) add('non-root', line(stage.from), `${label}: no USER, so it runs as root`);
    else if (userName === 'root' || userName === '0') add('non-root', line(user), `${label}: USER ${userName} is root`);
    const healthcheck = last('HEALTHCHECK');
    if (!healthcheck || /^NONE\b/i.test(healthcheck.getArgumentsContent() ?? '')) add('healthcheck', line(stage.from), `${label}: no HEALTHCHECK`);
    for (const keyword of ['ENTRYPOINT', 'CMD']) {
      const instruction = last(keyword) as JSONInstruction | undefined;
      if (keyword === 'ENTRYPOINT' && !instruction) add('entrypoint-exec', line(stage.from), `${label}: no ENTRYPOINT`);
      if (instruction && instruction.getJSONStrings().length === 0) add('entrypoint-exec', line(instruction), `${label}: ${keyword} in shell form; use the JSON exec form`);
    }
    if (!last('EXPOSE')) add('expose', line(stage.from), `${label}: no EXPOSE`);
  }
  return findings;
}

/** Names of the stages, in order (unnamed stages as null). */
export function stageNames(content: string): (string | null)[] {
  return stagesOf(content).map((stage) => stage.name);
}

export interface StageInstruction {
  keyword: string;
  /** The arguments as written (flags such as --from excluded). */
  args: string;
  /** COPY --from's value. */
  from?: string;
  /** ENTRYPOINT/CMD in exec form: the JSON strings. */
  exec?: string[];
}

/** What the image of stage `name` is built from: its own instructions and its ancestors', oldest first. */
export function stageInstructions(content: string, name: string): StageInstruction[] {
  const stage = stagesOf(content).find((candidate) => candidate.name === name);
  if (!stage) throw new Error(`no stage '${name}'`);
  return chainOf(stage).map((instruction) => {
    const keyword = instruction.getKeyword();
    const item: StageInstruction = { keyword, args: instruction.getArguments().map((argument) => argument.getValue()).join(' ') };
    if (keyword === 'COPY') item.from = (instruction as Copy).getFromFlag()?.getValue() ?? undefined;
    if (keyword === 'ENTRYPOINT' || keyword === 'CMD') item.exec = (instruction as JSONInstruction).getJSONStrings().map((value) => value.getJSONValue());
    return item;
  });
}
