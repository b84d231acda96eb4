/**
 * A .safetensors ResNet whose metadata does not state its last stride (layer4's first block:
 * 1 in most ReID models, 2 in torchvision's ImageNet ResNets). The weights are the same either
 * way, so the lab cannot tell; it opened the file with the ReID default and asks, instead of
 * deciding silently.
 */
import type { LastStrideQuestion as Question } from '../useLab';

export function LastStrideQuestion({ question, busy, onAnswer }: { question: Question; busy: boolean; onAnswer(stride: 1 | 2 | null): void }) {
  const other = question.assumed === 1 ? 2 : 1;
  return (
    <div className="banner notice" role="status" data-testid="last-stride-question">
      <span className="banner-text">
        {question.name} does not say its last stride (the stride of layer4&apos;s first block), and the weights cannot tell. The lab opened it with last stride{' '}
        <strong data-testid="last-stride-assumed">{question.assumed}</strong>
        {question.assumed === 1 ? ', the ReID default' : ''}. Was the model trained with {other}?{' '}
        <button type="button" className="secondary" data-testid="last-stride-keep" onClick={() => onAnswer(null)}>
          Keep {question.assumed}
        </button>{' '}
        <button type="button" data-testid="last-stride-other" disabled={busy} onClick={() => onAnswer(other)}>
          Open again with {other}
        </button>
      </span>
    </div>
  );
}
