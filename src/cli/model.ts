/**
 * The model a command works on (--model: a folder, model.json, .safetensors or .onnx), with
 * --last-stride for files that cannot state it; what the import assumed is printed as a notice.
 */
import { openModelPath, type OpenedModelPath } from '../node/model-files';
import { oneOf, str, type Flags } from './args';

export async function loadCliModel(flags: Flags, flag = 'model'): Promise<OpenedModelPath> {
  const given = flags['last-stride'] !== undefined ? (Number(oneOf(flags, 'last-stride', ['1', '2'], '1')) as 1 | 2) : undefined;
  const opened = await openModelPath(str(flags, flag), given !== undefined ? { lastStride: given } : {});
  for (const n of opened.notes) process.stderr.write(`notice: ${n}${/last stride/.test(n) && given === undefined ? ' (--last-stride 1|2)' : ''}\n`);
  return opened;
}
