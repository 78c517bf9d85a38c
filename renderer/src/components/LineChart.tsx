// A small hand-written SVG line chart: several series over a shared numeric x axis, with axis
// ticks and a legend. Enough for tokens/s over time, throughput vs concurrency and percentiles.
export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
}

interface Props {
  series: Series[];
  height?: number;
  xLabel?: string;
  yLabel?: string;
  formatX?: (x: number) => string;
  formatY?: (y: number) => string;
  /** Categorical x (e.g. concurrency levels): ticks at the data's x values. */
  xTicksAtData?: boolean;
  /** Log2 x axis (concurrency 1, 2, 4, 8…). */
  logX?: boolean;
  testId?: string;
}

const WIDTH = 640;
const PAD = { left: 56, right: 16, top: 12, bottom: 36 };

function niceMax(value: number): number {
  if (value <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

export function LineChart({ series, height = 220, xLabel, yLabel, formatX = String, formatY = (y) => String(Number(y.toPrecision(3))), xTicksAtData, logX, testId }: Props) {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) {
    return (
      <div className="chart-empty" style={{ height }} data-testid={testId}>
        No data yet
      </div>
    );
  }
  const tx = (x: number) => (logX ? Math.log2(Math.max(x, 1e-9)) : x);
  const xs = all.map((p) => tx(p.x));
  let xMin = Math.min(...xs);
  let xMax = Math.max(...xs);
  if (xMin === xMax) {
    xMin -= 1;
    xMax += 1;
  }
  const yMax = niceMax(Math.max(...all.map((p) => p.y)));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const px = (x: number) => PAD.left + ((tx(x) - xMin) / (xMax - xMin)) * plotW;
  const py = (y: number) => PAD.top + plotH - (Math.max(0, y) / yMax) * plotH;
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * yMax);
  const xTickValues = xTicksAtData
    ? [...new Set(all.map((p) => p.x))].sort((a, b) => a - b)
    : [0, 0.25, 0.5, 0.75, 1].map((f) => {
        const t = xMin + f * (xMax - xMin);
        return logX ? 2 ** t : t;
      });
  return (
    <div className="chart" data-testid={testId}>
      <svg viewBox={`0 0 ${WIDTH} ${height}`} width="100%" role="img" aria-label={`${yLabel ?? ''} vs ${xLabel ?? ''}`}>
        {yTicks.map((y) => (
          <g key={`y${y}`}>
            <line x1={PAD.left} x2={WIDTH - PAD.right} y1={py(y)} y2={py(y)} className="chart-grid" />
            <text x={PAD.left - 6} y={py(y) + 4} textAnchor="end" className="chart-tick">
              {formatY(y)}
            </text>
          </g>
        ))}
        {xTickValues.map((x, index) => (
          <text key={`x${index}`} x={px(x)} y={height - PAD.bottom + 16} textAnchor="middle" className="chart-tick">
            {formatX(x)}
          </text>
        ))}
        {xLabel && (
          <text x={PAD.left + plotW / 2} y={height - 4} textAnchor="middle" className="chart-axis-label">
            {xLabel}
          </text>
        )}
        {yLabel && (
          <text x={12} y={PAD.top + plotH / 2} textAnchor="middle" transform={`rotate(-90 12 ${PAD.top + plotH / 2})`} className="chart-axis-label">
            {yLabel}
          </text>
        )}
        {series.map((s) => {
          const sorted = [...s.points].sort((a, b) => a.x - b.x);
          const d = sorted.map((p, i) => `${i === 0 ? 'M' : 'L'}${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
          return (
            <g key={s.name}>
              <path d={d} fill="none" stroke={s.color} strokeWidth={2} strokeDasharray={s.dashed ? '6 4' : undefined} />
              {sorted.length <= 24 && sorted.map((p) => <circle key={p.x} cx={px(p.x)} cy={py(p.y)} r={3} fill={s.color} />)}
            </g>
          );
        })}
      </svg>
      {series.length > 1 && (
        <div className="chart-legend">
          {series.map((s) => (
            <span key={s.name}>
              <i style={{ background: s.color }} /> {s.name}
            </span>
          ))}
        </div>
      )}
    </div>
  );
}

/** A horizontal stacked bar (memory breakdown). */
export function StackedBar({ parts, total, testId }: { parts: { label: string; value: number; color: string }[]; total: number; testId?: string }) {
  return (
    <div className="stacked" data-testid={testId}>
      <div className="stacked-bar">
        {parts.map((part) => (
          <div key={part.label} title={part.label} style={{ width: `${total > 0 ? Math.min(100, (part.value / total) * 100) : 0}%`, background: part.color }} />
        ))}
      </div>
    </div>
  );
}
