/**
 * Axis ticks the chart can show without repeating itself: "nice" steps (1, 2, 5 x 10^k: their labels are exact at the formatter's precision, where 2.5 would round)
 * spanning the data, padded when every point has the same value (one run would otherwise give
 * recharts a zero-width domain, and six ticks that all read "258.1 MMACs"), and no two ticks
 * with the same label once formatted.
 */
export interface AxisTicks {
  domain: [number, number];
  ticks: number[];
}

export function niceTicks(values: readonly number[], format: (v: number) => string, count = 5): AxisTicks | null {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return null;
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, count - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * mag;
  const start = Math.floor(lo / step + 1e-9) * step;
  const end = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  const seen = new Set<string>();
  for (let i = 0; start + i * step <= end + step * 1e-6; i++) {
    const v = Number((start + i * step).toPrecision(12));
    const label = format(v);
    if (seen.has(label)) continue;
    seen.add(label);
    ticks.push(v);
  }
  return { domain: [start, Number(end.toPrecision(12))], ticks };
}
