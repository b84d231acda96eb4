/**
 * `npm run lab -- <command> [flags]`: the lab's engine from the command line, for scripting and
 * reproducibility. Same code as the browser worker, on tfjs's wasm backend in Node.
 */
import { initBackend } from '../engine/backend/init';
import { isLabError } from '../engine/errors';
import { oneOf, parseFlags, type Flags } from './args';
import { closest } from './closest';
import { COMMAND_FLAGS } from './flags';

const USAGE = `Prunability Lab command-line tool

Usage: npm run lab -- <command> [flags]

Commands:
  generate  Write a SynthReID tier to disk in the Market-1501 layout
            --tier XS|S|M --domain source|target [--shift 0..1] [--data-seed N] [--format jpg|png] --out DIR
            --tier P (the pre-training pool: 5,000 training identities, randomised cameras)
            [--height 128 --img-width 64] (image size, any tier)
  train     Train a ReID ResNet from scratch (resumable)
            --depth 18|34|50 [--width 0.5] [--steps 2000] [--seed 1] [--p 16 --k 4 --lr 3.5e-4]
            [--tier S --domain source | --data PATH] --out DIR [--resume | --resume-from FILE]
  eval      Evaluate a model: mAP, rank-1/5/10, mINP, MACs, params
            --model DIR [--tier S --domain target | --data PATH] [--flip] [--metric euclidean|cosine] [--json]
            [--quick [--quick-ids 40]] (the queries of a seeded subset of identities, whole gallery, 95% interval)
  info      A model's spec and cost, per layer with --layers
            --model DIR [--layers] [--json]
  prune     Prune a model (print before/after MACs, params, mAP/R1) and write it
            --model DIR --criterion l1 --rate 0.5 | --macs-target 0.5 [--scope inner|inner+trunk] [--ranking local|global]
            [--strategy once|iterative|psfp|fpgm-soft|auto-balanced] [--finetune-steps N [--train-from-stage N]] [--ids N --images-per-id K] --out DIR [--force]
  finetune  Fine-tune on N identities x K images of a domain's training split
            --model DIR [--tier S --domain target] [--ids 32 --images-per-id 4] [--steps 100] [--eval-ids N] [--ptl] --out DIR [--force]
            [--train-from-stage N] (1-4: train layerN onwards only; the stem and earlier stages stay frozen,
            BatchNorm there on running statistics: faster steps, usually less recovered mAP)
  scenario  One of the paper's scenarios (1 prune at source, 2 fine-tune/prune/fine-tune, 3 prune while fine-tuning, 4 fine-tune)
            --scenario 1|2|3|4 --model DIR [--method l1] [--small DIR | --macs-target T] [--steps 100] [--json]
  reproduce The lab-scale Table 5 and the paper's claims (resumable; cache in runs/reproduce/)
            [--quick] [--regime v2|v1] [--seeds 3] [--steps 100] [--zoo public/models] [--rows a,b] [--out docs/REPRODUCTION.md]
            [--json-out public/reproduction.json] [--sweep 300,1000:1] (other budgets of the headline rows, from the cache; N:S = N steps at S seeds)
            [--compare v1.json] (another regime's --json-out record, set beside this one in the report and JSON)
            [--charts reproduction] (links the PNGs 'npm run repro-charts' draws, relative to --out)
            [--from-cache] (run nothing; report the cells the cache holds, rows may differ in seeds)
            [--reading FILE] (a Markdown interpretation, shown after the verdicts)
            [--plan FILE] (the plan as fixed before the run, Markdown, shown before the setup)
  card      Re-evaluate a model folder and rewrite its card.json (keeps the training record)
            --model DIR [--notes TEXT] [--m-target] (also SynthReID M target: minutes)
            [--lineage FILE.safetensors] (the training record from a PyTorch companion file)
  export    Write a model as ONNX, PyTorch safetensors or a lab model folder, or write its pruning plan
            --model PATH --format onnx|safetensors|folder|plan --out FILE [--dtype F32|F16 | float32|float16] [--force]
            (plan: the folder of a \`lab prune\` run; apply it with python3 -m prunability_torch apply-plan)

Common: --backend wasm|cpu (default wasm)
--model takes a model folder (model.json + shards), its model.json, a PyTorch .safetensors state dict
(e.g. from the PyTorch companion, python/) or an .onnx file; for files that do not state the last stride (layer4's first stride), give
--last-stride 1|2 (default 1, printed as a notice).
Outputs (--out) are checked before any work and written whole: into a temporary folder beside
--out, renamed onto it at the end. An existing --out is replaced only if the lab wrote it; prune,
finetune and export --format folder refuse an --out that is, lies inside or contains --model (symbolic
links resolved) unless --force. A training run whose loss or weights become NaN or infinite stops with
an error and writes nothing.
`;

type Command = (flags: Flags, argv: string[]) => Promise<void>;

async function load(name: string): Promise<Command | undefined> {
  switch (name) {
    case 'generate': return (await import('./commands/generate')).generateCommand;
    case 'train': return (await import('./commands/train')).trainCommand;
    case 'eval': return (await import('./commands/eval')).evalCommand;
    case 'info': return (await import('./commands/info')).infoCommand;
    case 'prune': return (await import('./commands/prune')).pruneCommand;
    case 'finetune': return (await import('./commands/finetune')).finetuneCommand;
    case 'scenario': return (await import('./commands/scenario')).scenarioCommand;
    case 'reproduce': return (await import('./commands/reproduce')).reproduceCommand;
    case 'card': return (await import('./commands/card')).cardCommand;
    case 'export': return (await import('./commands/export')).exportCommand;
    default: return undefined;
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return name ? 0 : 1;
  }
  const command = await load(name);
  if (!command) {
    const near = closest(name, Object.keys(COMMAND_FLAGS));
    process.stderr.write(`Unknown command "${name}"${near ? `; did you mean "${near}"?` : '.'}\n\n${USAGE}`);
    return 1;
  }
  const flags = parseFlags(rest, name);
  const backend = oneOf(flags, 'backend', ['wasm', 'cpu'], 'wasm');
  await initBackend(backend);
  await command(flags, argv);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (isLabError(e)) process.stderr.write(`error: ${e.message}\n`);
    else process.stderr.write(`error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  },
);
