// `thinnet export`: a .tnet model to other formats, and back.
//   thinnet export --onnx MODEL.tnet OUT.onnx [--no-training-mode]   ONNX (opset 13; docs/INTEROP.md)
//   thinnet export --safetensors MODEL.tnet OUT.safetensors [--naming spec] [--prefix net.]
//   thinnet export --tnet MODEL.onnx OUT.tnet                         import an ONNX model (e.g. from torch.onnx.export)
// Writes are atomic. Usage errors exit 2, other failures 1, as every thinnet command (cli.ts).
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tn from './index.node.js';

export const EXPORT_HELP = `usage: thinnet export --onnx MODEL.tnet OUT.onnx [--no-training-mode]
       thinnet export --safetensors MODEL.tnet OUT.safetensors [--naming torch-sequential|spec] [--prefix STR]
       thinnet export --tnet MODEL.onnx OUT.tnet

  --onnx              write an ONNX model (opset 13): input 'input' (thinnet's rows; images NHWC),
                      output 'output'; with dropout also the bool input 'training_mode'
                      (true: Monte-Carlo dropout). Checked with onnxruntime-web.
  --no-training-mode  no 'training_mode' input: dropout fixed in inference mode
  --safetensors       write the weights with PyTorch state_dict names and layouts (docs/INTEROP.md)
  --naming, --prefix  the naming rule of --safetensors (default torch-sequential, no prefix)
  --tnet              read an ONNX model (MLPs, conv nets) and save it as a thinnet model`;

const OPTIONS = {
  onnx: { type: 'boolean' }, safetensors: { type: 'boolean' }, tnet: { type: 'boolean' },
  'no-training-mode': { type: 'boolean' }, naming: { type: 'string' }, prefix: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

export async function exportCommand(args: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
    if (values.help) {
      console.log(EXPORT_HELP);
      return 0;
    }
    const kinds = (['onnx', 'safetensors', 'tnet'] as const).filter((k) => values[k]);
    if (kinds.length !== 1) throw new UsageError(`export needs exactly one of --onnx, --safetensors, --tnet${kinds.length ? ` (got ${kinds.map((k) => `--${k}`).join(' ')})` : ''}`);
    const kind = kinds[0];
    if (positionals.length !== 2) throw new UsageError(`export takes an input file and an output file, got ${positionals.length}`);
    if (values['no-training-mode'] && kind !== 'onnx') throw new UsageError('--no-training-mode is an option of --onnx');
    if ((values.naming !== undefined || values.prefix !== undefined) && kind !== 'safetensors') throw new UsageError('--naming and --prefix are options of --safetensors');
    if (values.naming !== undefined && values.naming !== 'torch-sequential' && values.naming !== 'spec') throw new UsageError(`--naming must be torch-sequential or spec, got '${values.naming}'`);
    const [input, output] = positionals;
    let isFile = false;
    try { isFile = statSync(input).isFile(); } catch { /* missing */ }
    if (!isFile) throw new UsageError(`${input} is not a file`);
    await tn.ready({ threads: 1 });
    if (kind === 'tnet') {
      const model = await tn.io.loadOnnx(input);
      await model.save(output);
      console.log(`thinnet export: ${input} → ${output} ([${model.inputShape.join(', ')}] → ${model.outputSize}, ${model.paramCount} parameters, loss ${model.loss})`);
      model.dispose();
      return 0;
    }
    const model = await tn.loadModel(input);
    if (kind === 'onnx') await tn.io.saveOnnx(model, output, { trainingModeInput: !values['no-training-mode'] });
    else await tn.io.saveSafetensors(model, output, { naming: values.naming as 'torch-sequential' | 'spec' | undefined, prefix: values.prefix });
    console.log(`thinnet export: ${input} → ${output} (${kind}, ${model.paramCount} parameters)`);
    model.dispose();
    return 0;
  } catch (e) {
    console.error(`thinnet export: ${(e as Error).message}`);
    const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true;
    if (usage) console.error('run `thinnet export --help` for the options');
    return usage ? 2 : 1;
  }
}
