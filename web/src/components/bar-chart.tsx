// A plain SVG bar chart (no chart library): one bar per label, the value
// written above it. The table beside it carries the same figures for screen
// readers, so the chart itself is one labelled image.
export interface Bar {
  readonly label: string;
  readonly value: number;
  /** The value as shown. */
  readonly text: string;
}

/** `slot`: the width each bar has, its label included (wider for long labels). */
export function BarChart({ bars, title, slot: slotWidth = 48 }: { bars: readonly Bar[]; title: string; slot?: number }) {
  const width = Math.max(320, bars.length * slotWidth);
  const height = 200;
  const top = 20;
  const bottom = 36;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const slot = width / Math.max(1, bars.length);
  const barWidth = Math.min(36, slot * 0.7);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title} preserveAspectRatio="xMinYMin meet">
        <line x1="0" y1={height - bottom} x2={width} y2={height - bottom} class="axis" />
        {bars.map((b, i) => {
          const h = Math.max(0, (b.value / max) * (height - top - bottom));
          const x = i * slot + (slot - barWidth) / 2;
          const y = height - bottom - h;
          return (
            <g key={b.label}>
              <rect x={x} y={y} width={barWidth} height={h} class="bar" />
              <text x={x + barWidth / 2} y={y - 4} text-anchor="middle" class="bar-value">
                {b.value === 0 ? '' : b.text}
              </text>
              <text x={x + barWidth / 2} y={height - bottom + 14} text-anchor="middle" class="bar-label">
                {b.label}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption>{title}</figcaption>
    </figure>
  );
}
